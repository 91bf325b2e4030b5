//! JUnit XML for CI systems: a `testsuite` per test file, a `testcase` per
//! step, a `failure` with the step's reason.

use super::FileReport;
use std::fmt::Write as _;
use std::path::Path;

/// Text made safe inside an XML attribute or element: the five entities
/// escaped, and the control characters XML 1.0 forbids dropped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The document for `reports`.
pub fn render(reports: &[FileReport]) -> String {
    let tests: usize = reports.iter().map(|r| r.steps.len()).sum();
    let failures: usize = reports.iter().map(FileReport::failures).sum();
    let time: f64 = reports.iter().map(|r| r.took.as_secs_f64()).sum();
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        x,
        "<testsuites name=\"ente test\" tests=\"{tests}\" failures=\"{failures}\" time=\"{time:.3}\">"
    );
    for r in reports {
        let suite = escape(&r.path.display().to_string());
        let _ = writeln!(
            x,
            "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            r.steps.len(),
            r.failures(),
            r.took.as_secs_f64()
        );
        for (i, s) in r.steps.iter().enumerate() {
            let _ = write!(
                x,
                "    <testcase classname=\"{}\" name=\"{i} {}\" time=\"{:.3}\"",
                escape(&r.name),
                escape(&s.name),
                s.took.as_secs_f64()
            );
            match &s.outcome {
                Ok(_) => x.push_str("/>\n"),
                Err(why) => {
                    let why = escape(why);
                    let _ = writeln!(
                        x,
                        ">\n      <failure message=\"{why}\">{why}</failure>\n    </testcase>"
                    );
                }
            }
        }
        x.push_str("  </testsuite>\n");
    }
    x.push_str("</testsuites>\n");
    x
}

/// Write the document for `reports` to `path`.
pub fn write(path: &Path, reports: &[FileReport]) -> std::io::Result<()> {
    std::fs::write(path, render(reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_cannot_break_the_document() {
        assert_eq!(
            escape("a<b>&\"c\"'\u{1b}[31m\n"),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;[31m\n"
        );
    }
}
