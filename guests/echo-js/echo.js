// An echo Ente in JavaScript: it serves its endpoint by answering each
// call with the body it was given, and says so in its journal.
//
// Built with componentize-js against ente's `provider` world, which
// imports only `ente:core/journal`; the StarlingMonkey runtime itself
// imports `wasi:filesystem` and `wasi:http`, which `ente pack --grant
// Journal` denies inside the component.

import { log } from "ente:core/journal@0.1.0";

export const lifecycle = {
  start() {
    // stdout is in every Ente's baseline: console.log reaches the journal.
    console.log("echo-js starting");
    log("info", "echo-js ready");
  },
  stop() {},
};

export const handler = {
  handle(from, target, body) {
    if (new TextDecoder().decode(body) === "fail") {
      throw "asked to fail";
    }
    return body;
  },
};
