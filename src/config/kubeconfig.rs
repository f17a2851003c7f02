//! A kubeconfig user whose exec credential plugin is latchkey (`latchkey kubeconfig`), added or
//! replaced in the file's own text so that every other byte stays: comments, order, the other
//! users, clusters, contexts. A text edit of YAML's block style rather than a YAML round trip,
//! which would drop the comments; whatever it cannot edit safely is refused, naming the line.

use crate::base::error::{Error, Result};
use crate::base::text::{quoted, shown_whole};
use std::path::Path;

/// The exec credential API every kubectl since 1.22 speaks, and `latchkey token` answers in.
pub const EXEC_API_VERSION: &str = "client.authentication.k8s.io/v1";

/// The user entry to write: `users[].name` and its `user.exec` settings.
#[derive(Debug, Clone)]
pub struct ExecUser<'a> {
    pub name: &'a str,
    /// The program kubectl runs: an absolute path.
    pub command: &'a str,
    pub args: &'a [String],
    /// What kubectl says when `command` is not there.
    pub install_hint: &'a str,
}

/// What an edit does to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Updated,
    /// The user is there already, exactly as it would be written.
    Unchanged,
}

/// The lines an edit replaces and what replaces them, each with its line end, for a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The first old line replaced, counted from 1; for a pure insertion, the line it goes
    /// before (one past the last line when it goes at the end).
    pub old_start: usize,
    pub old: Vec<String>,
    pub new: Vec<String>,
}

/// A kubeconfig's new text, and what changed in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub text: String,
    pub change: Change,
    pub hunk: Hunk,
}

/// Adds `user` to the kubeconfig `text` (`None`: there is no file yet), or replaces the user of
/// that name, leaving every other line as it was. `path` only names the file in errors.
pub fn set_exec_user(path: &Path, text: Option<&str>, user: &ExecUser) -> Result<Edit> {
    let text = text.unwrap_or("");
    let (bom, body) = match text.strip_prefix('\u{feff}') {
        Some(rest) => ("\u{feff}", rest),
        None => ("", text),
    };
    let doc = Doc::read(body).map_err(|problem| problem.error(path, user))?;
    let splice = doc
        .splice(user)
        .map_err(|problem| problem.error(path, user))?;
    let mut new_text = String::with_capacity(text.len() + 512);
    new_text.push_str(bom);
    for line in &doc.lines[..splice.start] {
        new_text.push_str(line);
    }
    for line in &splice.new {
        new_text.push_str(line);
    }
    for line in &doc.lines[splice.end..] {
        new_text.push_str(line);
    }
    let old: Vec<String> = doc.lines[splice.start..splice.end]
        .iter()
        .map(|l| (*l).to_owned())
        .collect();
    let change = if new_text == text {
        Change::Unchanged
    } else {
        splice.change
    };
    Ok(Edit {
        text: new_text,
        change,
        hunk: Hunk {
            old_start: splice.start + 1,
            old,
            new: splice.new,
        },
    })
}

/// Whether the kubeconfig `text` (YAML or JSON) has a user named `name`; a file latchkey cannot
/// read counts as not having it.
pub fn has_user(text: &str, name: &str) -> bool {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    if looks_like_json(body) {
        return serde_json::from_str::<serde_json::Value>(body).is_ok_and(|doc| {
            doc["users"]
                .as_array()
                .is_some_and(|users| users.iter().any(|user| user["name"].as_str() == Some(name)))
        });
    }
    Doc::read(body).is_ok_and(|doc| match doc.users {
        Users::List { items, .. } => items.iter().any(|item| item.name.as_deref() == Some(name)),
        _ => false,
    })
}

/// The top-level `current-context`, when the file names one.
pub fn current_context(text: &str) -> Option<String> {
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    Doc::read(body)
        .ok()
        .and_then(|doc| doc.current_context)
        .filter(|name| !name.is_empty())
}

/// Why a file cannot be edited, and at which line (counted from 1; 0 for the whole file).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Problem {
    line: usize,
    what: String,
    /// A file in JSON: said differently, as the fix is to convert it.
    json: bool,
}

impl Problem {
    fn at(line: usize, what: impl Into<String>) -> Problem {
        Problem {
            line,
            what: what.into(),
            json: false,
        }
    }

    fn error(self, path: &Path, user: &ExecUser) -> Error {
        let file = shown_whole(&path.display().to_string());
        let place = if self.line == 0 {
            file.clone()
        } else {
            format!("{file}:{}", self.line)
        };
        let by_kubectl = set_credentials_command(path, user);
        if self.json {
            return Error::config(format!(
                "{place}: the kubeconfig is JSON; latchkey edits only YAML kubeconfigs, keeping their comments"
            ))
            .hint(format!(
                "edit it by hand or convert it to YAML (`kubectl config view --kubeconfig {} --raw > NEW-FILE`), or let kubectl add the user: {by_kubectl}",
                shell_word(&file)
            ));
        }
        Error::config(format!(
            "{place}: {}; latchkey changes a kubeconfig only where it can keep every other line as it is, and nothing was written",
            self.what
        ))
        .hint(format!(
            "edit the file by hand, or let kubectl add the user (it rewrites the whole file, without its comments): {by_kubectl}"
        ))
    }
}

/// The `kubectl config set-credentials` line that writes the same user, for a file latchkey
/// will not edit.
fn set_credentials_command(path: &Path, user: &ExecUser) -> String {
    let mut words = vec![
        "kubectl".to_owned(),
        "config".to_owned(),
        "set-credentials".to_owned(),
        shell_word(user.name),
        format!("--kubeconfig={}", shell_word(&path.display().to_string())),
        format!("--exec-api-version={EXEC_API_VERSION}"),
        format!("--exec-command={}", shell_word(user.command)),
    ];
    words.extend(
        user.args
            .iter()
            .map(|arg| format!("--exec-arg={}", shell_word(arg))),
    );
    words.push("--exec-interactive-mode=IfAvailable".to_owned());
    shown_whole(&words.join(" "))
}

/// A word as a POSIX shell reads it back: as it is when that is safe, else in single quotes.
pub fn shell_word(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// The file as lines, and where its `users` list is.
struct Doc<'a> {
    /// Each line with its line end (the last may lack one).
    lines: Vec<&'a str>,
    /// The line end the file uses: `\r\n` when its first line ends so.
    eol: &'static str,
    /// Whether the file has anything but blank lines, comments and directives.
    has_content: bool,
    users: Users,
    /// The indentation of the file's first other block list (`clusters:`), for a new `users`
    /// list.
    list_indent: Option<usize>,
    current_context: Option<String>,
}

enum Users {
    Absent,
    /// `users:` with nothing, `users: []`, `users: null` or `users: ~`: the key's line (from
    /// 0), and that line rewritten to take a block list (`None`: it already can).
    Empty {
        line: usize,
        rewrite: Option<String>,
    },
    List {
        indent: usize,
        items: Vec<Item>,
    },
}

/// One entry of the `users` list: lines `start..end` (from 0; `end` after its last line that is
/// not blank or a comment, so the comments before the next entry stay with that one).
struct Item {
    start: usize,
    end: usize,
    name: Option<String>,
}

/// Where the new entry goes and what it replaces.
struct Splice {
    start: usize,
    end: usize,
    new: Vec<String>,
    change: Change,
}

/// A line without its line end.
fn body(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

fn indent_of(body: &str) -> usize {
    body.len() - body.trim_start_matches(' ').len()
}

/// A line that is neither blank nor a comment.
fn is_content(body: &str) -> bool {
    let text = body.trim_start_matches([' ', '\t']);
    !text.is_empty() && !text.starts_with('#')
}

/// Whether the text is JSON (a `{` or `[` before anything else), which kubectl also reads.
fn looks_like_json(text: &str) -> bool {
    text.lines()
        .map(|line| line.trim_start_matches([' ', '\t', '\r']))
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .is_some_and(|line| line.starts_with('{') || line.starts_with('['))
}

/// `---` or `...` at the start of a line: a document starts or ends.
fn document_marker(body: &str) -> Option<&'static str> {
    ["---", "..."].into_iter().find(|marker| {
        body.strip_prefix(marker)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
    })
}

impl<'a> Doc<'a> {
    fn read(text: &'a str) -> Result<Doc<'a>, Problem> {
        if looks_like_json(text) {
            return Err(Problem {
                line: 0,
                what: String::new(),
                json: true,
            });
        }
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let eol = match lines.first() {
            Some(first) if first.ends_with("\r\n") => "\r\n",
            _ => "\n",
        };
        // The top-level keys: (line, key), and the lines where the top level goes on.
        let mut keys: Vec<(usize, Option<String>)> = Vec::new();
        let mut has_content = false;
        for (i, line) in lines.iter().enumerate() {
            let line = body(line);
            if let Some(marker) = document_marker(line) {
                if has_content || marker == "..." {
                    return Err(Problem::at(
                        i + 1,
                        "the file holds several YAML documents (a `---` or `...` line after the first)",
                    ));
                }
                continue;
            }
            if !is_content(line) || (!has_content && line.starts_with('%')) {
                continue;
            }
            if !has_content && line.starts_with([' ', '\t']) {
                return Err(Problem::at(i + 1, "the top level of the file is indented"));
            }
            has_content = true;
            if !line.starts_with([' ', '\t', '-']) {
                keys.push((i, split_key(line).map(|(key, _)| key)));
            }
        }
        let mut doc = Doc {
            lines,
            eol,
            has_content,
            users: Users::Absent,
            list_indent: None,
            current_context: None,
        };
        let users_keys: Vec<usize> = keys
            .iter()
            .filter(|(_, key)| key.as_deref() == Some("users"))
            .map(|(line, _)| *line)
            .collect();
        if let [first, second, ..] = users_keys[..] {
            return Err(Problem::at(
                second + 1,
                format!(
                    "`users` is a top-level key twice (lines {} and {})",
                    first + 1,
                    second + 1
                ),
            ));
        }
        for (n, (line, key)) in keys.iter().enumerate() {
            let end = keys.get(n + 1).map_or(doc.lines.len(), |(next, _)| *next);
            let rest = split_key(body(doc.lines[*line])).map_or("", |(_, rest)| rest);
            match key.as_deref() {
                Some("users") => doc.users = doc.users_at(*line, rest, end)?,
                Some("current-context") => doc.current_context = scalar(rest),
                _ => {
                    if plain_value(rest).is_empty()
                        && let Some(first) = doc.first_content(line + 1, end)
                        && is_item(body(doc.lines[first]))
                        && doc.list_indent.is_none()
                    {
                        doc.list_indent = Some(indent_of(body(doc.lines[first])));
                    }
                }
            }
        }
        Ok(doc)
    }

    /// The first line in `from..to` that is neither blank nor a comment.
    fn first_content(&self, from: usize, to: usize) -> Option<usize> {
        (from..to).find(|&i| is_content(body(self.lines[i])))
    }

    /// The `users` value: the key is on line `key`, `rest` follows its colon, and the section
    /// runs to line `end`.
    fn users_at(&self, key: usize, rest: &str, end: usize) -> Result<Users, Problem> {
        let first = self.first_content(key + 1, end);
        if let Some(users) = self.users_on_the_key_line(key, rest, first)? {
            return Ok(users);
        }
        let Some(first) = first else {
            return Ok(Users::Empty {
                line: key,
                rewrite: None,
            });
        };
        let first_body = body(self.lines[first]);
        if first_body.trim_start().starts_with('[') {
            return Err(Problem::at(
                first + 1,
                "`users` is a list in flow style (`[...]`)",
            ));
        }
        if !is_item(first_body) {
            return Err(Problem::at(first + 1, "`users` is not a list"));
        }
        let indent = indent_of(first_body);
        let mut items = self.list_items(first, end, indent)?;
        for item in &mut items {
            item.name = self.item_name(item, indent)?;
        }
        Ok(Users::List { indent, items })
    }

    /// What the `users:` line itself says: nothing (`None`: a block list may follow), an empty
    /// list (`[]`, `null`, `~`; rewritten to a bare `users:` so entries can follow), or what
    /// cannot be edited.
    fn users_on_the_key_line(
        &self,
        key: usize,
        rest: &str,
        first: Option<usize>,
    ) -> Result<Option<Users>, Problem> {
        let value = plain_value(rest);
        let empty_flow = value
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .is_some_and(|inner| inner.trim().is_empty());
        match value {
            "" => Ok(None),
            _ if empty_flow || matches!(value, "null" | "Null" | "NULL" | "~") => {
                if let Some(line) = first {
                    return Err(Problem::at(
                        line + 1,
                        "`users` has a value and more lines after it",
                    ));
                }
                // `plain_value` trims the same characters, so `value` starts `trimmed`.
                let trimmed = rest.trim_start_matches([' ', '\t']);
                let comment = trimmed.get(value.len()..).unwrap_or_default().trim();
                let whole = body(self.lines[key]);
                let key_text = whole.get(..whole.len() - rest.len()).unwrap_or(whole);
                let rewrite = if comment.is_empty() {
                    format!("{key_text}{}", self.eol)
                } else {
                    format!("{key_text} {comment}{}", self.eol)
                };
                Ok(Some(Users::Empty {
                    line: key,
                    rewrite: Some(rewrite),
                }))
            }
            flow if flow.starts_with('[') => Err(Problem::at(
                key + 1,
                "`users` is a list in flow style (`[...]`)",
            )),
            other if other.starts_with(['&', '*', '!']) => {
                Err(Problem::at(key + 1, "`users` has an anchor, alias or tag"))
            }
            _ => Err(Problem::at(key + 1, "`users` is not a list")),
        }
    }

    /// The entries of a block list whose first item is at line `first`, indented `indent`,
    /// up to `end`; refused where the list's shape is not one this editor can keep.
    fn list_items(&self, first: usize, end: usize, indent: usize) -> Result<Vec<Item>, Problem> {
        let mut items: Vec<Item> = Vec::new();
        for i in first..end {
            let line = body(self.lines[i]);
            if !is_content(line) {
                continue;
            }
            let leading = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
            if leading.contains('\t') {
                return Err(Problem::at(
                    i + 1,
                    "a tab in the indentation of the `users` list",
                ));
            }
            let at = indent_of(line);
            if at < indent || (at == indent && !is_item(line)) {
                return Err(Problem::at(
                    i + 1,
                    "a line the `users` list cannot go on with at this indentation",
                ));
            }
            if has_anchor_or_alias(line) {
                return Err(Problem::at(
                    i + 1,
                    "an anchor, alias or merge key (`&`, `*`, `<<`) in the `users` list",
                ));
            }
            if at == indent {
                items.push(Item {
                    start: i,
                    end: i + 1,
                    name: None,
                });
            }
            if let Some(item) = items.last_mut() {
                item.end = i + 1;
            }
        }
        Ok(items)
    }

    /// The `name` of the entry `item` of a list at `indent`; `None` when it has none.
    fn item_name(&self, item: &Item, indent: usize) -> Result<Option<String>, Problem> {
        let first = body(self.lines[item.start]);
        let after_dash = &first[indent + 1..];
        let inline = after_dash.trim_start_matches(' ');
        let unreadable = |line: usize| {
            Problem::at(
                line + 1,
                "a `users` entry whose name latchkey cannot read (not a `name: value` line of a block mapping)",
            )
        };
        // The entry's keys start where its first key does.
        let (key_indent, mut candidates) = if is_content(inline) {
            if inline.starts_with(['{', '[', '-', '&', '*', '!', '?']) {
                return Err(unreadable(item.start));
            }
            (first.len() - inline.len(), vec![(item.start, inline)])
        } else {
            match self.first_content(item.start + 1, item.end) {
                Some(line) => (indent_of(body(self.lines[line])), Vec::new()),
                None => return Ok(None),
            }
        };
        for i in item.start + 1..item.end {
            let line = body(self.lines[i]);
            if is_content(line) && indent_of(line) == key_indent {
                candidates.push((i, &line[key_indent..]));
            }
        }
        for (i, text) in candidates {
            if let Some((key, rest)) = split_key(text)
                && key == "name"
            {
                return scalar(rest).map(Some).ok_or_else(|| unreadable(i));
            }
        }
        Ok(None)
    }

    /// Where `user` goes: over the entry of its name, at the end of the list, or in a new list.
    fn splice(&self, user: &ExecUser) -> Result<Splice, Problem> {
        match &self.users {
            Users::Absent => {
                let mut new = Vec::new();
                let end = self.lines.len();
                // A last line without its line end gets one, kept in the hunk as replaced.
                let start = match self.lines.last() {
                    Some(last) if !last.ends_with('\n') => {
                        new.push(format!("{last}{}", self.eol));
                        end - 1
                    }
                    _ => end,
                };
                if !self.has_content {
                    for line in [
                        "apiVersion: v1",
                        "clusters: []",
                        "contexts: []",
                        "current-context: \"\"",
                        "kind: Config",
                        "preferences: {}",
                    ] {
                        new.push(format!("{line}{}", self.eol));
                    }
                }
                new.push(format!("users:{}", self.eol));
                new.extend(self.entry(user, self.list_indent.unwrap_or(0)));
                Ok(Splice {
                    start,
                    end,
                    new,
                    change: Change::Added,
                })
            }
            Users::Empty { line, rewrite } => {
                let mut new: Vec<String> = rewrite.iter().cloned().collect();
                new.extend(self.entry(user, self.list_indent.unwrap_or(0)));
                let start = if rewrite.is_some() { *line } else { line + 1 };
                Ok(Splice {
                    start,
                    end: line + 1,
                    new,
                    change: Change::Added,
                })
            }
            Users::List { indent, items } => {
                let same: Vec<&Item> = items
                    .iter()
                    .filter(|item| item.name.as_deref() == Some(user.name))
                    .collect();
                let new = self.entry(user, *indent);
                match same[..] {
                    [] => {
                        let end = items.last().map_or(0, |item| item.end);
                        Ok(Splice {
                            start: end,
                            end,
                            new,
                            change: Change::Added,
                        })
                    }
                    [item] => Ok(Splice {
                        start: item.start,
                        end: item.end,
                        new,
                        change: Change::Updated,
                    }),
                    [first, second, ..] => Err(Problem::at(
                        second.start + 1,
                        format!(
                            "two users are named {} (lines {} and {})",
                            quoted(user.name),
                            first.start + 1,
                            second.start + 1
                        ),
                    )),
                }
            }
        }
    }

    /// The entry's lines, for a list at `indent`.
    fn entry(&self, user: &ExecUser, indent: usize) -> Vec<String> {
        let pad = " ".repeat(indent);
        let args: Vec<String> = user.args.iter().map(|arg| double_quoted(arg)).collect();
        [
            format!("- name: {}", double_quoted(user.name)),
            "  user:".to_owned(),
            "    exec:".to_owned(),
            format!("      apiVersion: {EXEC_API_VERSION}"),
            format!("      command: {}", double_quoted(user.command)),
            format!("      args: [{}]", args.join(", ")),
            "      interactiveMode: IfAvailable".to_owned(),
            "      provideClusterInfo: false".to_owned(),
            format!("      installHint: {}", double_quoted(user.install_hint)),
        ]
        .into_iter()
        .map(|line| format!("{pad}{line}{}", self.eol))
        .collect()
    }
}

/// A `- ` (or lone `-`) line: an entry of a block list.
fn is_item(body: &str) -> bool {
    body.trim_start_matches(' ')
        .strip_prefix('-')
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

/// Whether a line of the list starts a node with an anchor or alias, or is a merge key: YAML
/// that a text edit could break (an alias to the entry replaced) or misread.
fn has_anchor_or_alias(body: &str) -> bool {
    let mut text = body.trim_start_matches(' ');
    while let Some(rest) = text.strip_prefix('-')
        && (rest.is_empty() || rest.starts_with([' ', '\t']))
    {
        text = rest.trim_start_matches([' ', '\t']);
    }
    if text.starts_with(['&', '*']) {
        return true;
    }
    match split_key(text) {
        Some((key, rest)) => key == "<<" || rest.trim_start().starts_with(['&', '*']),
        None => false,
    }
}

/// `key: rest` → the key (unquoted) and what follows its colon; `None` when the text does not
/// start with a key.
fn split_key(text: &str) -> Option<(String, &str)> {
    let (key, after) = if text.starts_with('"') {
        double_quoted_scalar(text)?
    } else if text.starts_with('\'') {
        single_quoted_scalar(text)?
    } else {
        if text.starts_with([
            '#', '-', '?', '[', '{', '&', '*', '!', '|', '>', '%', '@', '`',
        ]) {
            return None;
        }
        let colon = text.char_indices().find_map(|(i, c)| {
            let next = text[i + 1..].chars().next();
            (c == ':' && next.is_none_or(|n| n == ' ' || n == '\t')).then_some(i)
        })?;
        let key = text[..colon].trim_end();
        if key.is_empty() || key.contains(" #") {
            return None;
        }
        (key.to_owned(), &text[colon..])
    };
    let after = after.trim_start_matches([' ', '\t']);
    let rest = after.strip_prefix(':')?;
    if !(rest.is_empty() || rest.starts_with([' ', '\t'])) {
        return None;
    }
    Some((key, rest))
}

/// A plain value without the comment after it.
fn plain_value(rest: &str) -> &str {
    let text = rest.trim_matches([' ', '\t']);
    if text.starts_with('#') {
        return "";
    }
    let cut = text
        .char_indices()
        .find(|&(i, c)| c == '#' && text[..i].ends_with([' ', '\t']))
        .map_or(text.len(), |(i, _)| i);
    text[..cut].trim_end_matches([' ', '\t'])
}

/// A one-line scalar as YAML reads it: plain, 'single-' or "double-quoted"; `None` for anything
/// else (a block scalar, a flow collection, an anchor, alias or tag, a quote that goes on to
/// the next line).
fn scalar(rest: &str) -> Option<String> {
    let text = rest.trim_start_matches([' ', '\t']);
    let quoted = if text.starts_with('"') {
        Some(double_quoted_scalar(text)?)
    } else if text.starts_with('\'') {
        Some(single_quoted_scalar(text)?)
    } else {
        None
    };
    match quoted {
        Some((value, after)) => {
            let after = after.trim_start_matches([' ', '\t']);
            (after.is_empty() || after.starts_with('#')).then_some(value)
        }
        None => {
            let value = plain_value(text);
            (!value.starts_with(['&', '*', '!', '|', '>', '{', '[', '@', '`', '%']))
                .then(|| value.to_owned())
        }
    }
}

/// A `'single-quoted'` scalar at the start of `text` (`''` is a quote), and what follows it.
fn single_quoted_scalar(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((i, c)) = chars.next() {
        if c == '\'' {
            if chars.peek().is_some_and(|&(_, n)| n == '\'') {
                chars.next();
                value.push('\'');
                continue;
            }
            return Some((value, &text[i + 1..]));
        }
        value.push(c);
    }
    None
}

/// A `"double-quoted"` scalar at the start of `text`, its escapes read, and what follows it.
fn double_quoted_scalar(text: &str) -> Option<(String, &str)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((value, &text[i + 1..])),
            '\\' => {
                let (_, escape) = chars.next()?;
                let hex = |chars: &mut std::iter::Skip<std::str::CharIndices>, n: usize| {
                    let digits: String = chars.by_ref().take(n).map(|(_, c)| c).collect();
                    (digits.len() == n)
                        .then(|| u32::from_str_radix(&digits, 16).ok())
                        .flatten()
                        .and_then(char::from_u32)
                };
                value.push(match escape {
                    '0' => '\0',
                    'a' => '\u{7}',
                    'b' => '\u{8}',
                    't' | '\t' => '\t',
                    'n' => '\n',
                    'v' => '\u{b}',
                    'f' => '\u{c}',
                    'r' => '\r',
                    'e' => '\u{1b}',
                    ' ' => ' ',
                    '"' => '"',
                    '/' => '/',
                    '\\' => '\\',
                    'N' => '\u{85}',
                    '_' => '\u{a0}',
                    'L' => '\u{2028}',
                    'P' => '\u{2029}',
                    'x' => hex(&mut chars, 2)?,
                    'u' => hex(&mut chars, 4)?,
                    'U' => hex(&mut chars, 8)?,
                    _ => return None,
                });
            }
            other => value.push(other),
        }
    }
    None
}

/// `text` as a YAML double-quoted scalar: quotes, backslashes and every character YAML does not
/// print as it is (controls, the byte-order mark, line separators) escaped.
fn double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let code = u32::from(c);
                if code <= 0xff {
                    out.push_str(&format!("\\x{code:02x}"));
                } else {
                    out.push_str(&format!("\\u{code:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> Vec<String> {
        ["token", "--profile", "dev", "--format", "exec-credential"]
            .map(str::to_owned)
            .to_vec()
    }

    fn user<'a>(name: &'a str, args: &'a [String]) -> ExecUser<'a> {
        ExecUser {
            name,
            command: "/usr/bin/latchkey",
            args,
            install_hint: "install latchkey",
        }
    }

    /// The entry as it is written for a list at `indent`.
    fn entry(name: &str, indent: usize) -> String {
        let pad = " ".repeat(indent);
        format!(
            "{pad}- name: \"{name}\"\n\
             {pad}  user:\n\
             {pad}    exec:\n\
             {pad}      apiVersion: client.authentication.k8s.io/v1\n\
             {pad}      command: \"/usr/bin/latchkey\"\n\
             {pad}      args: [\"token\", \"--profile\", \"dev\", \"--format\", \"exec-credential\"]\n\
             {pad}      interactiveMode: IfAvailable\n\
             {pad}      provideClusterInfo: false\n\
             {pad}      installHint: \"install latchkey\"\n"
        )
    }

    fn set(text: Option<&str>, name: &str) -> Result<Edit> {
        let args = args();
        set_exec_user(Path::new("/k/config"), text, &user(name, &args))
    }

    fn refusal(text: &str) -> String {
        let error = set(Some(text), "latchkey-dev").unwrap_err();
        assert_eq!(error.exit_code(), crate::base::error::ExitCode::Config);
        error.message().to_owned()
    }

    const OTHER: &str = "- name: other\n  user:\n    token: abc\n";

    #[test]
    fn edits_as_the_table_says() {
        let e = entry("latchkey-dev", 0);
        let e2 = entry("latchkey-dev", 2);
        let cases: Vec<(&str, String, String)> = vec![
            (
                "no users key: a list is appended",
                "apiVersion: v1\nkind: Config\n".into(),
                format!("apiVersion: v1\nkind: Config\nusers:\n{e}"),
            ),
            (
                "no users key, no final newline",
                "apiVersion: v1\nkind: Config".into(),
                format!("apiVersion: v1\nkind: Config\nusers:\n{e}"),
            ),
            (
                "users: []",
                "users: []\nkind: Config\n".into(),
                format!("users:\n{e}kind: Config\n"),
            ),
            (
                "users: null with a comment",
                "users: null # none yet\nkind: Config\n".into(),
                format!("users: # none yet\n{e}kind: Config\n"),
            ),
            (
                "users: ~",
                "kind: Config\nusers: ~\n".into(),
                format!("kind: Config\nusers:\n{e}"),
            ),
            (
                "users: with nothing under it",
                "users:\n# later\nkind: Config\n".into(),
                format!("users:\n{e}# later\nkind: Config\n"),
            ),
            (
                "a list at column 0: appended after the last entry",
                format!("users:\n{OTHER}\n# contexts\ncontexts: []\n"),
                format!("users:\n{OTHER}{e}\n# contexts\ncontexts: []\n"),
            ),
            (
                "an indented list: the entry takes its indentation",
                "users:\n  - name: other\n    user: {}\nkind: Config\n".into(),
                format!("users:\n  - name: other\n    user: {{}}\n{e2}kind: Config\n"),
            ),
            (
                "a new list takes the indentation of the file's other lists",
                "clusters:\n  - name: c\n    cluster: {}\n".into(),
                format!("clusters:\n  - name: c\n    cluster: {{}}\nusers:\n{e2}"),
            ),
            (
                "the same user, plain name: replaced whole, the next entry's comment kept",
                format!(
                    "users:\n- name: latchkey-dev\n  user:\n    # old\n    token: x\n\n# next\n{OTHER}"
                ),
                format!("users:\n{e}\n# next\n{OTHER}"),
            ),
            (
                "single-quoted name, not first in its entry",
                "users:\n- user:\n    token: x\n  name: 'latchkey-dev'\n".into(),
                format!("users:\n{e}"),
            ),
            (
                "double-quoted name with an escape, entry starting on the next line",
                "users:\n-\n  name: \"latchkey\\x2ddev\" # mine\n  user: {}\nkind: Config\n".into(),
                format!("users:\n{e}kind: Config\n"),
            ),
            (
                "a leading document marker and directive",
                "%YAML 1.2\n---\nkind: Config\n".into(),
                format!("%YAML 1.2\n---\nkind: Config\nusers:\n{e}"),
            ),
            (
                "a nested `name` key is not the entry's",
                "users:\n- name: x\n  user:\n    name: latchkey-dev\n".into(),
                format!("users:\n- name: x\n  user:\n    name: latchkey-dev\n{e}"),
            ),
        ];
        for (what, input, expected) in cases {
            let edit = set(Some(&input), "latchkey-dev").unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(edit.text, expected, "{what}");
            let again = set(Some(&edit.text), "latchkey-dev").unwrap();
            assert_eq!(again.text, edit.text, "{what}: applying twice");
            assert_eq!(again.change, Change::Unchanged, "{what}");
        }
    }

    #[test]
    fn a_missing_or_empty_file_gets_a_whole_kubeconfig() {
        let e = entry("latchkey-dev", 0);
        let whole = format!(
            "apiVersion: v1\nclusters: []\ncontexts: []\ncurrent-context: \"\"\nkind: Config\npreferences: {{}}\nusers:\n{e}"
        );
        assert_eq!(set(None, "latchkey-dev").unwrap().text, whole);
        assert_eq!(set(Some(""), "latchkey-dev").unwrap().text, whole);
        let commented = set(Some("# my clusters\n\n"), "latchkey-dev").unwrap();
        assert_eq!(commented.text, format!("# my clusters\n\n{whole}"));
        assert_eq!(commented.change, Change::Added);
    }

    #[test]
    fn other_users_and_every_other_line_stay_byte_for_byte() {
        let text = "# top comment\napiVersion: v1\nclusters:\n- cluster:\n    server: https://k8s.example.com   # prod\n  name: prod\nusers:\n- name: alice\n  user:\n    client-key-data: QUJD\n- name: latchkey-dev\n  user:\n    token: old\n- name: bob # the other one\n  user: {token: t}\ncurrent-context: prod\n";
        let edit = set(Some(text), "latchkey-dev").unwrap();
        assert_eq!(edit.change, Change::Updated);
        let (before, after) = text
            .split_once("- name: latchkey-dev\n  user:\n    token: old\n")
            .unwrap();
        assert!(edit.text.starts_with(before), "{}", edit.text);
        assert!(edit.text.ends_with(after), "{}", edit.text);
        assert_eq!(
            edit.text,
            format!("{before}{}{after}", entry("latchkey-dev", 0))
        );
        assert_eq!(edit.hunk.old_start, 11);
        assert_eq!(
            edit.hunk.old,
            ["- name: latchkey-dev\n", "  user:\n", "    token: old\n"]
        );
        assert_eq!(edit.hunk.new.concat(), entry("latchkey-dev", 0));
        // Another user added beside it leaves it alone too.
        let second = set(Some(&edit.text), "latchkey-prod").unwrap();
        assert_eq!(second.change, Change::Added);
        assert!(second.text.contains(&entry("latchkey-dev", 0)));
        assert!(second.text.contains(&entry("latchkey-prod", 0)));
        assert!(second.text.ends_with(&format!(
            "{}current-context: prod\n",
            entry("latchkey-prod", 0)
        )));
    }

    #[test]
    fn crlf_files_get_crlf_lines_and_a_bom_stays() {
        let text = "\u{feff}apiVersion: v1\r\nusers:\r\n- name: a\r\n  user: {}\r\n";
        let edit = set(Some(text), "latchkey-dev").unwrap();
        assert!(edit.text.starts_with("\u{feff}apiVersion: v1\r\nusers:\r\n- name: a\r\n  user: {}\r\n- name: \"latchkey-dev\"\r\n"));
        assert!(!edit.text.replace("\r\n", "").contains('\n'));
    }

    #[test]
    fn names_and_values_are_double_quoted_and_escaped() {
        let args = vec![
            "a\"b".to_owned(),
            "c\\d".to_owned(),
            "e\u{1b}f\u{2028}".to_owned(),
        ];
        let user = ExecUser {
            name: "we'ird: #name",
            command: "/opt/my apps/latchkey",
            args: &args,
            install_hint: "x",
        };
        let edit = set_exec_user(Path::new("k"), None, &user).unwrap();
        assert!(
            edit.text.contains("- name: \"we'ird: #name\"\n"),
            "{}",
            edit.text
        );
        assert!(edit.text.contains("command: \"/opt/my apps/latchkey\"\n"));
        assert!(
            edit.text
                .contains(r#"args: ["a\"b", "c\\d", "e\x1bf\u2028"]"#),
            "{}",
            edit.text
        );
        // And read back as the same name: the second run replaces, not adds.
        let again = set_exec_user(Path::new("k"), Some(&edit.text), &user).unwrap();
        assert_eq!(again.change, Change::Unchanged);
        assert!(has_user(&edit.text, "we'ird: #name"));
    }

    #[test]
    fn what_cannot_be_edited_safely_is_refused_with_its_line() {
        let cases = [
            (
                "users: [{name: a}]\n",
                "/k/config:1: `users` is a list in flow style",
            ),
            (
                "users:\n  [ {name: a} ]\n",
                "/k/config:2: `users` is a list in flow style",
            ),
            (
                "users:\n- name: a\n\tuser: {}\n",
                "/k/config:3: a tab in the indentation",
            ),
            (
                "users:\n- name: latchkey-dev\n- name: latchkey-dev\n",
                "/k/config:3: two users are named \"latchkey-dev\" (lines 2 and 3)",
            ),
            (
                "kind: Config\n---\nkind: Config\n",
                "/k/config:2: the file holds several YAML documents",
            ),
            (
                "kind: Config\n...\n",
                "/k/config:2: the file holds several YAML documents",
            ),
            (
                "users:\n- &me\n  name: a\n- *me\n",
                "/k/config:2: an anchor, alias or merge key",
            ),
            (
                "users:\n- name: a\n  user: *u\n",
                "/k/config:3: an anchor, alias or merge key",
            ),
            (
                "users:\n- name: a\n  <<: {x: 1}\n",
                "/k/config:3: an anchor, alias or merge key",
            ),
            (
                "users: &u\n- name: a\n",
                "/k/config:1: `users` has an anchor",
            ),
            ("users:\n  name: a\n", "/k/config:2: `users` is not a list"),
            ("users: {}\n", "/k/config:1: `users` is not a list"),
            (
                "users:\n- {name: a}\n",
                "/k/config:2: a `users` entry whose name latchkey cannot read",
            ),
            (
                "users:\n- name: \"a\n    b\"\n",
                "/k/config:2: a `users` entry whose name latchkey cannot read",
            ),
            (
                "users:\n- name: a\nusers:\n- name: b\n",
                "/k/config:3: `users` is a top-level key twice",
            ),
            (
                "  apiVersion: v1\n",
                "/k/config:1: the top level of the file is indented",
            ),
            (
                "users:\n  - name: a\n - name: b\n",
                "/k/config:3: a line the `users` list cannot go on with",
            ),
            (
                "users: []\n- name: a\n",
                "/k/config:2: `users` has a value and more lines",
            ),
        ];
        for (text, expected) in cases {
            let message = refusal(text);
            assert!(message.starts_with(expected), "{text:?}: {message}");
            assert!(message.contains("nothing was written"), "{message}");
        }
    }

    #[test]
    fn json_is_refused_with_the_way_to_convert_it() {
        let error = set(
            Some("{\"apiVersion\": \"v1\", \"users\": []}"),
            "latchkey-dev",
        )
        .unwrap_err();
        assert!(
            error
                .message()
                .starts_with("/k/config: the kubeconfig is JSON"),
            "{}",
            error.message()
        );
        let hint = error.hint_text().unwrap();
        assert!(
            hint.contains("edit it by hand or convert it to YAML"),
            "{hint}"
        );
        assert!(
            hint.contains("kubectl config set-credentials latchkey-dev --kubeconfig=/k/config --exec-api-version=client.authentication.k8s.io/v1 --exec-command=/usr/bin/latchkey --exec-arg=token --exec-arg=--profile --exec-arg=dev --exec-arg=--format --exec-arg=exec-credential --exec-interactive-mode=IfAvailable"),
            "{hint}"
        );
    }

    #[test]
    fn the_hunk_says_what_replaced_what() {
        let appended = set(Some("kind: Config"), "latchkey-dev").unwrap();
        assert_eq!(appended.hunk.old_start, 1);
        assert_eq!(appended.hunk.old, ["kind: Config"]);
        assert_eq!(appended.hunk.new[..2], ["kind: Config\n", "users:\n"]);
        let inserted = set(Some(&format!("users:\n{OTHER}kind: Config\n")), "x").unwrap();
        assert_eq!(inserted.hunk.old_start, 5);
        assert!(inserted.hunk.old.is_empty());
        assert_eq!(inserted.hunk.new.len(), 9);
    }

    #[test]
    fn has_user_reads_yaml_and_json() {
        assert!(has_user(&format!("users:\n{OTHER}"), "other"));
        assert!(!has_user(&format!("users:\n{OTHER}"), "latchkey-dev"));
        assert!(has_user(
            "{\"users\": [{\"name\": \"a\", \"user\": {}}]}",
            "a"
        ));
        assert!(!has_user("{\"users\": [{\"name\": \"a\"}]}", "b"));
        assert!(
            !has_user("users: [{name: a}]\n", "a"),
            "unreadable counts as absent"
        );
    }

    #[test]
    fn current_context_is_read() {
        assert_eq!(
            current_context("current-context: prod # now\n").as_deref(),
            Some("prod")
        );
        assert_eq!(current_context("current-context: \"\"\n"), None);
        assert_eq!(current_context("kind: Config\n"), None);
    }

    #[test]
    fn shell_words_quote_only_when_needed() {
        assert_eq!(shell_word("--exec-arg=token"), "--exec-arg=token");
        assert_eq!(shell_word("/my apps/x"), "'/my apps/x'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word(""), "''");
    }
}
