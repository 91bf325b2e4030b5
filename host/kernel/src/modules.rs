//! Kernel modules on MODALIAS, as udev and mdev load them: match the alias
//! against `modules.alias`, resolve `modules.dep`, load dependencies first
//! with `finit_module`.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ModuleError {
    #[error("{file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("module `{module}` is not in modules.dep")]
    Unknown { module: String },
    #[error("module `{module}`: opening {path}: {source}")]
    Open {
        module: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("module `{module}`: finit_module: {source}")]
    Load { module: String, source: nix::Error },
    #[error("module `{module}`: dependency cycle in modules.dep")]
    Cycle { module: String },
}

/// `modules.alias` and `modules.dep` of one kernel.
#[derive(Debug, Default)]
pub struct ModuleIndex {
    dir: PathBuf,
    aliases: Vec<(glob::Pattern, String)>,
    /// Module name -> (path relative to `dir`, dependency names).
    deps: HashMap<String, (String, Vec<String>)>,
    loaded: BTreeSet<String>,
}

/// `kernel/drivers/virtio/virtio_mmio.ko` -> `virtio_mmio`. Module names
/// treat `-` and `_` alike; the index uses `_`.
pub fn module_name(path: &str) -> String {
    let file = path.rsplit('/').next().unwrap_or(path);
    let stem = file.split(".ko").next().unwrap_or(file);
    stem.replace('-', "_")
}

impl ModuleIndex {
    /// Read the index of `/lib/modules/<release>` (`dir`). Modules already
    /// in `/proc/modules` count as loaded.
    pub fn open(dir: &Path) -> Result<ModuleIndex, ModuleError> {
        let read = |name: &str| {
            let file = dir.join(name);
            std::fs::read_to_string(&file).map_err(|source| ModuleError::Read { file, source })
        };
        let mut index = ModuleIndex {
            dir: dir.to_owned(),
            ..ModuleIndex::default()
        };
        for line in read("modules.alias")?.lines() {
            let mut words = line.split_whitespace();
            if let (Some("alias"), Some(pattern), Some(module)) =
                (words.next(), words.next(), words.next())
                && let Ok(p) = glob::Pattern::new(pattern)
            {
                index.aliases.push((p, module.replace('-', "_")));
            }
        }
        for line in read("modules.dep")?.lines() {
            if let Some((path, deps)) = line.split_once(':') {
                let deps = deps.split_whitespace().map(module_name).collect();
                index
                    .deps
                    .insert(module_name(path), (path.to_owned(), deps));
            }
        }
        if let Ok(proc) = std::fs::read_to_string("/proc/modules") {
            index.loaded.extend(
                proc.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .map(str::to_owned),
            );
        }
        Ok(index)
    }

    /// The modules whose alias matches `modalias`.
    pub fn matching(&self, modalias: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .aliases
            .iter()
            .filter(|(p, _)| p.matches(modalias))
            .map(|(_, m)| m.clone())
            .collect();
        found.sort();
        found.dedup();
        found
    }

    /// `module` and its dependencies in load order (dependencies first).
    pub fn load_order(&self, module: &str) -> Result<Vec<String>, ModuleError> {
        fn visit(
            index: &ModuleIndex,
            m: &str,
            open: &mut Vec<String>,
            out: &mut Vec<String>,
        ) -> Result<(), ModuleError> {
            if out.iter().any(|o| o == m) {
                return Ok(());
            }
            if open.iter().any(|o| o == m) {
                return Err(ModuleError::Cycle {
                    module: m.to_owned(),
                });
            }
            let (_, deps) = index.deps.get(m).ok_or_else(|| ModuleError::Unknown {
                module: m.to_owned(),
            })?;
            open.push(m.to_owned());
            // modules.dep lists the deepest dependency last: load from the end.
            for d in deps.iter().rev() {
                visit(index, d, open, out)?;
            }
            open.pop();
            out.push(m.to_owned());
            Ok(())
        }
        let mut out = Vec::new();
        visit(self, module, &mut Vec::new(), &mut out)?;
        Ok(out)
    }

    pub fn is_loaded(&self, module: &str) -> bool {
        self.loaded.contains(module)
    }

    /// Load `module` and its dependencies; returns the modules newly loaded.
    pub fn load(&mut self, module: &str) -> Result<Vec<String>, ModuleError> {
        let mut newly = Vec::new();
        for m in self.load_order(module)? {
            if self.loaded.contains(&m) {
                continue;
            }
            let (rel, _) = &self.deps[&m];
            let path = self.dir.join(rel);
            let file = std::fs::File::open(&path).map_err(|source| ModuleError::Open {
                module: m.clone(),
                path: path.clone(),
                source,
            })?;
            match nix::kmod::finit_module(&file, c"", nix::kmod::ModuleInitFlags::empty()) {
                Ok(()) | Err(nix::Error::EEXIST) => {}
                Err(source) => return Err(ModuleError::Load { module: m, source }),
            }
            self.loaded.insert(m.clone());
            newly.push(m);
        }
        Ok(newly)
    }

    /// Load every module matching `modalias`; per module, what was loaded or why not.
    pub fn load_for(&mut self, modalias: &str) -> Vec<(String, Result<Vec<String>, ModuleError>)> {
        self.matching(modalias)
            .into_iter()
            .map(|m| {
                let r = self.load(&m);
                (m, r)
            })
            .collect()
    }
}
