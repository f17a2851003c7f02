//! ARCHITECTURE.md, enforced. The layer rule: a module uses only its own folder and the layers
//! below it, and no two modules use each other (directly or round a longer loop). The map: every
//! module is named in its layer's row, every layer's number agrees with its `mod.rs`. And no
//! comment or document names a file of the repository that is not there.
//!
//! It reads `src/` as text: every `crate::a::b` path and `super::` in code (comments are skipped)
//! is an edge from the file's module to the longest module path it names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first, as `src/lib.rs` declares them.
const LAYERS: &[&str] = &[
    "base", "terminal", "net", "config", "oauth", "store", "login", "agent", "cli", "commands",
];

/// Items at the crate root that any layer may name: the `debug!` macro is defined in
/// `base::log` but `#[macro_export]` puts it at the root.
const ROOT_ITEMS: &[&str] = &["debug"];

struct Module {
    /// `store::refresh`, `cli`, or `` for `lib.rs`.
    path: String,
    file: PathBuf,
    source: String,
}

fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    collect(&root, &root, &mut found);
    found
}

fn collect(root: &Path, dir: &Path, found: &mut Vec<Module>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(root, &path, found);
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let relative = path.strip_prefix(root).unwrap().with_extension("");
        let mut parts: Vec<String> = relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if matches!(
            parts.last().map(String::as_str),
            Some("mod" | "lib" | "main")
        ) {
            parts.pop();
        }
        found.push(Module {
            path: parts.join("::"),
            file: path.clone(),
            source: std::fs::read_to_string(&path).unwrap(),
        });
    }
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` (tests may
/// reach anywhere to set things up).
fn code_of(source: &str) -> String {
    let without_tests = match source.find("#[cfg(test)]\nmod tests") {
        Some(at) => &source[..at],
        None => source,
    };
    without_tests
        .lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path a piece of code names through `crate::…` (including `crate::{a, b}` groups)
/// or `super::…`, resolved to absolute `a::b` form.
fn named_paths(module: &str, is_mod_file: bool, code: &str) -> BTreeSet<String> {
    let mut named = BTreeSet::new();
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let bytes: Vec<char> = code.chars().collect();
    let text: String = bytes.iter().collect();
    for (start, _) in text.match_indices("crate::") {
        if start > 0 && (ident(bytes[start - 1]) || bytes[start - 1] == '$') {
            continue;
        }
        let rest = &text[start + "crate::".len()..];
        for path in expand(rest) {
            named.insert(path);
        }
    }
    // `super::` in a file `a/b.rs` (module a::b) names a; in `a/mod.rs` (module a) it names the
    // crate root.
    let mut parent: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
    if !is_mod_file || parent.len() > 1 {
        parent.pop();
    } else {
        parent.clear();
    }
    for (start, _) in text.match_indices("super::") {
        if start > 0 && ident(bytes[start - 1]) {
            continue;
        }
        let rest = &text[start + "super::".len()..];
        if rest.starts_with("super::") {
            continue;
        }
        for path in expand(rest) {
            let mut full = parent.clone();
            full.extend(path.split("::"));
            named.insert(full.join("::"));
        }
    }
    named
}

/// `a::b::C` → [`a::b::C`]; `{a::b, c}` → [`a::b`, `c`]; `a::{b, c::D}` → [`a::b`, `a::c::D`].
fn expand(rest: &str) -> Vec<String> {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let prefix = &rest[..end];
    let Some(group) = rest[end..]
        .strip_prefix('{')
        .filter(|_| prefix.is_empty() || prefix.ends_with("::"))
    else {
        return vec![prefix.trim_end_matches(':').to_owned()];
    };
    let close = group.find('}').unwrap_or(group.len());
    group[..close]
        .split(',')
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .map(|p| format!("{prefix}{p}"))
        .collect()
}

/// The longest known module that `path` starts with.
fn resolve(path: &str, known: &BTreeSet<String>) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| known.contains(candidate))
}

fn layer_of(module: &str) -> Option<usize> {
    let top = module.split("::").next()?;
    LAYERS.iter().position(|l| *l == top)
}

fn edges() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let known: BTreeSet<String> = modules.iter().map(|m| m.path.clone()).collect();
    let mut graph = BTreeMap::new();
    for module in &modules {
        let is_mod_file = matches!(
            module.file.file_stem().and_then(|s| s.to_str()),
            Some("mod" | "lib" | "main")
        );
        let mut targets = BTreeSet::new();
        for path in named_paths(&module.path, is_mod_file, &code_of(&module.source)) {
            if ROOT_ITEMS.contains(&path.as_str()) {
                continue;
            }
            if let Some(target) = resolve(&path, &known)
                && target != module.path
                && !target.is_empty()
            {
                targets.insert(target);
            }
        }
        graph.insert(module.path.clone(), targets);
    }
    graph
}

/// The uses that go from a lower layer to a higher one.
fn upward_uses(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut violations = Vec::new();
    for (from, targets) in graph {
        let Some(from_layer) = layer_of(from) else {
            continue; // lib.rs and main.rs sit on top
        };
        for to in targets {
            let to_layer = layer_of(to).unwrap_or(usize::MAX);
            if to_layer > from_layer {
                violations.push(format!(
                    "{from} (layer {}) uses {to} (layer {})",
                    LAYERS[from_layer],
                    LAYERS.get(to_layer).copied().unwrap_or("crate root")
                ));
            }
        }
    }
    violations
}

/// Every cycle's modules, found by depth-first search (each cycle reported once per entry).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
        found: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(node.to_owned());
            found.push(cycle);
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            visit(next, graph, stack, done, found);
        }
        stack.pop();
        done.insert(node.to_owned());
    }
    let mut found = Vec::new();
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        visit(node, graph, &mut Vec::new(), &mut done, &mut found);
    }
    found
}

#[test]
fn every_folder_of_src_is_a_known_layer() {
    for module in modules() {
        if module.path.is_empty() {
            continue;
        }
        assert!(
            layer_of(&module.path).is_some(),
            "{} is in no layer: add its folder to LAYERS here and to ARCHITECTURE.md",
            module.file.display()
        );
    }
}

#[test]
fn no_lower_layer_uses_a_higher_one() {
    let violations = upward_uses(&edges());
    assert!(
        violations.is_empty(),
        "layer rule broken (see ARCHITECTURE.md):\n  {}",
        violations.join("\n  ")
    );
}

#[test]
fn no_two_modules_use_each_other() {
    let found = cycles(&edges());
    let shown: Vec<String> = found.iter().map(|c| c.join(" -> ")).collect();
    assert!(found.is_empty(), "import cycles:\n  {}", shown.join("\n  "));
}

#[test]
fn the_checker_sees_uses_in_every_form() {
    let code = "use crate::net::url::Url;\nuse crate::oauth::{jwt, pkce};\nlet x = super::Globals;\n// crate::cli in a comment\n$crate::base::log::debug";
    let named = named_paths("commands::token", false, &code_of(code));
    let expected: BTreeSet<String> = [
        "net::url::Url",
        "oauth::jwt",
        "oauth::pkce",
        "commands::Globals",
    ]
    .into_iter()
    .map(String::from)
    .collect();
    assert_eq!(named, expected);
    let mut graph = BTreeMap::new();
    graph.insert(
        "net::http".to_owned(),
        BTreeSet::from(["config".to_owned()]),
    );
    graph.insert(
        "config".to_owned(),
        BTreeSet::from(["net::http".to_owned()]),
    );
    assert_eq!(upward_uses(&graph).len(), 1);
    assert_eq!(cycles(&graph).len(), 1);
}

/// The repository's root.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// ARCHITECTURE.md's layer map: the row of each layer, by its number.
fn map_rows() -> BTreeMap<usize, String> {
    let text = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).unwrap();
    text.lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let number = cells.get(1)?.parse::<usize>().ok()?;
            Some((number, line.to_owned()))
        })
        .collect()
}

/// What the map and the `mod.rs` files say of one layer that is not so.
fn map_drift(rows: &BTreeMap<usize, String>, modules: &[Module]) -> Vec<String> {
    let mut drift = Vec::new();
    for (number, layer) in LAYERS.iter().enumerate() {
        let Some(row) = rows.get(&number) else {
            drift.push(format!(
                "ARCHITECTURE.md has no row for layer {number}, `{layer}/`"
            ));
            continue;
        };
        if !row.contains(&format!("`{layer}/`")) {
            drift.push(format!(
                "ARCHITECTURE.md's row {number} is not `{layer}/`: {row}"
            ));
        }
        let mod_file = modules
            .iter()
            .find(|m| m.path == *layer && m.file.ends_with("mod.rs"));
        match mod_file.and_then(|m| m.source.lines().next()) {
            Some(first) if first.starts_with(&format!("//! Layer {number},")) => {}
            other => drift.push(format!(
                "src/{layer}/mod.rs should begin `//! Layer {number},` as ARCHITECTURE.md numbers it: {other:?}"
            )),
        }
        for module in modules {
            let Some(rest) = module.path.strip_prefix(&format!("{layer}::")) else {
                continue;
            };
            let name = rest.rsplit("::").next().unwrap_or(rest);
            if !row.contains(&format!("`{name}`")) && !row.contains(&format!("`{rest}`")) {
                drift.push(format!(
                    "{} (module {}) is missing from ARCHITECTURE.md's row for layer {number}",
                    module.file.display(),
                    module.path
                ));
            }
        }
    }
    drift
}

#[test]
fn the_map_names_every_module_and_agrees_with_each_layers_number() {
    let drift = map_drift(&map_rows(), &modules());
    assert!(
        drift.is_empty(),
        "ARCHITECTURE.md has drifted from src/:\n  {}",
        drift.join("\n  ")
    );
}

#[test]
fn the_map_check_sees_a_planted_drift() {
    let mut rows = map_rows();
    let modules = modules();
    assert!(map_drift(&rows, &modules).is_empty());
    // A module left out of its row, and a layer renumbered.
    let store = rows.get_mut(&5).unwrap();
    *store = store.replace("`refresh`", "`refreshing`");
    let mut renumbered = modules;
    let cli = renumbered
        .iter_mut()
        .find(|m| m.path == "cli" && m.file.ends_with("mod.rs"))
        .unwrap();
    cli.source = cli.source.replacen("//! Layer 8,", "//! Layer 7,", 1);
    let drift = map_drift(&rows, &renumbered);
    assert_eq!(drift.len(), 2, "{drift:#?}");
    assert!(drift[0].contains("(module store::refresh) is missing"));
    assert!(drift[1].contains("src/cli/mod.rs should begin `//! Layer 8,`"));
}

/// The files a repository path is looked for in: sources, tests, scripts and documents (not
/// generated files, fixtures, corpora or what the tests install).
fn text_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let skipped = [
            "node_modules",
            ".venv",
            "corpus",
            "fixtures",
            "target",
            "artifacts",
        ];
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !skipped.contains(&name.as_str()) {
                    walk(&path, found);
                }
            } else if [".rs", ".md", ".toml", ".js", ".py", ".sh"]
                .iter()
                .any(|end| name.ends_with(end))
                || path
                    .parent()
                    .and_then(Path::file_name)
                    .is_some_and(|dir| dir == ".ci")
                || name == "run"
            {
                found.push(path);
            }
        }
    }
    let root = repo();
    let mut found = Vec::new();
    for dir in ["src", "tests", "benches", ".ci"] {
        walk(&root.join(dir), &mut found);
    }
    for file in [
        "Cargo.toml",
        "build.rs",
        "README.md",
        "ARCHITECTURE.md",
        "SECURITY.md",
    ] {
        found.push(root.join(file));
    }
    found.sort();
    found
}

/// The repository paths `text` names (`src/…`, `tests/…`, `.ci/…`, …), as they are written:
/// not those inside another path (`~/.cargo/bin`, `/usr/share/man/man1`), not patterns
/// (`tests/cmd/*.toml`), not those with a placeholder (`tests/fuzz/corpus/TARGET/`).
fn repository_paths(text: &str) -> Vec<String> {
    const ROOTS: &[&str] = &[
        "src/",
        "tests/",
        "benches/",
        "man/",
        "completions/",
        ".ci/",
        ".cargo/",
    ];
    let in_path = |c: char| c.is_ascii_alphanumeric() || "_./*-".contains(c);
    let mut found = Vec::new();
    for root in ROOTS {
        for (at, _) in text.match_indices(root) {
            let before = text[..at].chars().next_back();
            if before.is_some_and(|c| in_path(c) || c == '~' || c == '$') {
                continue;
            }
            let end = text[at..]
                .find(|c: char| !in_path(c))
                .map_or(text.len(), |n| at + n);
            let path = text[at..end].trim_end_matches(['.', ',', ';', ':']);
            let placeholder = path.split('/').any(|part| {
                part.len() > 1 && part.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            });
            if !path.contains('*') && !placeholder {
                found.push(path.to_owned());
            }
        }
    }
    found
}

#[test]
fn no_file_names_a_repository_path_that_is_not_there() {
    let root = repo();
    let mut missing = Vec::new();
    for file in text_files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for path in repository_paths(&text) {
            if !root.join(&path).exists() {
                missing.push(format!(
                    "{} names {path}",
                    file.strip_prefix(&root).unwrap_or(&file).display()
                ));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "paths that are not there:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn repository_paths_are_read_as_written() {
    let text = "see src/net/tls.rs, and `tests/cmd/*.toml`; ~/.cargo/bin and /usr/share/man/man1 \
                are not ours; tests/fuzz/corpus/TARGET/ is a pattern; (.ci/run).";
    assert_eq!(repository_paths(text), ["src/net/tls.rs", ".ci/run"]);
}
