//! What the CLI prints for people. The audit of the shipped dump as `kubectl get`-style
//! tables: the default layout fits 80 columns when the width is unknown (stdout a pipe,
//! or a terminal without a size as `script` gives), `-o wide` puts each MachineSet on one
//! line, and no word is ever broken. Progress goes to stderr only when stderr is a
//! terminal, and never in Ansible mode.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::{binary, objects_under, root, with_v3_stubs, TestCluster};
use serde_json::{json, Value};

fn dump() -> PathBuf {
    root().join("examples/cluster-dump")
}

fn audit(extra: &[&str]) -> String {
    let out = Command::new(binary())
        .args(["audit", "--from-dir"])
        .arg(dump())
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The audit as JSON, for the facts the table must show.
fn facts() -> Value {
    serde_json::from_str(&audit(&["-o", "json"])).unwrap()
}

fn tokens(text: &str) -> Vec<&str> {
    text.split_whitespace().collect()
}

/// Whether `needle`'s words appear in `hay`, in order and whole (so a line break may
/// stand between two words, never inside one).
fn has_words(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (tokens(hay), tokens(needle));
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle.as_slice())
}

/// The lines whose words are exactly `cells`.
fn rows_of<'a>(text: &'a str, cells: &[&str]) -> Vec<&'a str> {
    text.lines().filter(|l| tokens(l) == cells).collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("-")
}

/// `script` (util-linux) runs `command` in a pseudo-terminal; with stdin not a terminal
/// the pty has no size, as on CI runners. None when `script` is not installed.
fn in_pty(command: &str) -> Option<String> {
    let out = Command::new("script")
        .args(["-qefc", command, "/dev/null"])
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    assert!(out.status.success(), "{command}: {out:?}");
    Some(String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n"))
}

/// `audit` of the shipped dump, as a shell command (default output: a table on a terminal).
fn audit_command() -> String {
    format!(
        "{} audit --from-dir {}",
        binary().display(),
        dump().display()
    )
}

/// Asserts the default layout: every line at most 80 columns, one line per MachineSet
/// with NAME, STATUS, CURRENT (the shared target said once above), and every reason,
/// warning and the verdict present with no word broken.
fn assert_default_layout(text: &str) {
    let too_wide: Vec<&str> = text.lines().filter(|l| l.chars().count() > 80).collect();
    assert!(
        too_wide.is_empty(),
        "lines over 80 columns: {too_wide:#?}\n{text}"
    );
    assert!(
        !text.contains(['│', '┆', '─', '═', '┌', '└']),
        "no box drawing: {text}"
    );
    let f = facts();
    assert_eq!(
        rows_of(text, &["NAME", "STATUS", "CURRENT"]).len(),
        1,
        "{text}"
    );
    let machinesets = f["machinesets"].as_array().unwrap();
    assert_eq!(machinesets.len(), 4);
    for m in machinesets {
        let row = [
            str_of(m, "name"),
            str_of(m, "status"),
            str_of(m, "current_build"),
        ];
        assert_eq!(rows_of(text, &row).len(), 1, "row {row:?} in {text}");
        assert_eq!(str_of(m, "target_build"), "418.94.202602022246-0");
        let reason = format!("{}: {}", str_of(m, "name"), str_of(m, "reason"));
        assert!(has_words(text, &reason), "{reason} in {text}");
    }
    assert!(
        has_words(
            text,
            "Stream: rhcos-4.18 from configmap · target build 418.94.202602022246-0"
        ),
        "{text}"
    );
    assert!(
        has_words(
            text,
            "MachineSets: 4 · platform aws · arch aarch64 (3), x86_64 (1)"
        ),
        "{text}"
    );
    // The verdict, last, whole.
    let msg = f["msg"].as_str().unwrap();
    let last = text.trim_end().rsplit("\n\n").next().unwrap();
    assert_eq!(tokens(last), tokens(msg), "{text}");
    for w in f["warnings"].as_array().into_iter().flatten() {
        assert!(has_words(text, w.as_str().unwrap()), "{w} in {text}");
    }
    // Every word of a MachineSet name is a whole name.
    let names: Vec<&str> = machinesets.iter().map(|m| str_of(m, "name")).collect();
    for t in tokens(text) {
        let t = t.trim_end_matches([',', ';', ':']);
        if t.starts_with("build09-kcxpl-worker") {
            assert!(names.contains(&t), "broken name {t:?} in {text}");
        }
    }
}

#[test]
fn the_default_table_fits_80_columns_when_stdout_is_a_pipe() {
    assert_default_layout(&audit(&["-o", "table"]));
}

#[test]
fn a_terminal_without_a_size_gets_the_same_80_column_table() {
    let command = format!(
        "{} audit --from-dir {}",
        binary().display(),
        dump().display()
    );
    let Some(text) = in_pty(&command) else {
        eprintln!("skipped: no `script` to make a pseudo-terminal");
        return;
    };
    assert_default_layout(&text);
    assert_eq!(text, audit(&["-o", "table"]), "same as with width unknown");
    assert!(!text.contains('\x1b'), "{text:?}");
}

#[test]
fn a_terminal_of_80_columns_gets_the_same_table_and_a_wider_one_wraps_prose_later() {
    let sized = |cols: u32| in_pty(&format!("stty cols {cols} rows 40; {}", audit_command()));
    let Some(at_80) = sized(80) else {
        eprintln!("skipped: no `script` to make a pseudo-terminal");
        return;
    };
    assert_default_layout(&at_80);
    assert_eq!(at_80, audit(&["-o", "table"]));
    // At 120 columns the table is the same; only prose wraps later, still whole words.
    let at_120 = sized(120).unwrap();
    let table = |t: &str| t.split("\n\n").nth(1).unwrap().to_string();
    assert_eq!(table(&at_120), table(&at_80));
    assert!(at_120.lines().all(|l| l.chars().count() <= 120), "{at_120}");
    assert!(at_120.lines().any(|l| l.chars().count() > 80), "{at_120}");
    assert_eq!(tokens(&at_120), tokens(&at_80), "the same words");
}

#[test]
fn wide_shows_every_column_on_one_line_per_machineset() {
    let text = audit(&["-o", "wide"]);
    let f = facts();
    assert_eq!(
        rows_of(
            &text,
            &["NAME", "PLATFORM", "ARCH", "REGION", "STATUS", "CURRENT", "TARGET"]
        )
        .len(),
        1,
        "{text}"
    );
    for m in f["machinesets"].as_array().unwrap() {
        let row = [
            str_of(m, "name"),
            str_of(m, "platform"),
            str_of(m, "architecture"),
            str_of(m, "region"),
            str_of(m, "status"),
            str_of(m, "current_build"),
            str_of(m, "target_build"),
        ];
        assert_eq!(rows_of(&text, &row).len(), 1, "row {row:?} in {text}");
    }
    // The user-data secret's MachineSets on its one line, comma-separated.
    let worker = text
        .lines()
        .find(|l| l.starts_with("worker-user-data"))
        .unwrap();
    assert_eq!(
        tokens(worker)[..5],
        ["worker-user-data", "yes", "2.2.0", "REQUIRED", "4"]
    );
    assert_eq!(tokens(worker)[5].split(',').count(), 4, "{worker}");
    assert!(
        !text.contains("MachineSets: 4 ·"),
        "no summary line in wide: {text}"
    );
}

/// The shipped dump with its stubs migrated, on a test cluster: `machineset_bootimage`
/// changes its four MachineSets.
fn cluster() -> TestCluster {
    let mut c = TestCluster::start();
    c.load(&with_v3_stubs(objects_under(&dump())));
    c
}

fn args_file(dir: &Path, c: &TestCluster) -> PathBuf {
    let path = dir.join("args.json");
    let args = json!({"kubeconfig": c.kubeconfig(), "record_path": dir.join("record.json")});
    std::fs::write(&path, args.to_string()).unwrap();
    path
}

#[test]
fn progress_is_silent_when_stderr_is_not_a_terminal() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(["machineset_bootimage", "--args-file"])
        .arg(args_file(dir.path(), &c))
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stdout["changed"], true, "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains(['\r', '\x1b']) && !stderr.contains("writing"),
        "{stderr:?}"
    );
}

#[test]
fn progress_shows_in_a_terminal_and_never_in_ansible_mode() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let args = args_file(dir.path(), &c);
    let command = format!(
        "{} machineset_bootimage --args-file {}",
        binary().display(),
        args.display()
    );
    let Some(text) = in_pty(&command) else {
        eprintln!("skipped: no `script` to make a pseudo-terminal");
        return;
    };
    assert!(
        text.contains("machineset_bootimage: writing") && text.contains('\x1b'),
        "the count of objects written, then cleared: {text:?}"
    );
    let json_start = text.find('{').unwrap();
    let result: Value = serde_json::from_str(&text[json_start..]).unwrap();
    assert_eq!(result["changed"], true, "{text}");

    // Ansible mode in the same terminal: one JSON object and nothing else. (One cluster
    // at a time: on a real API server a second would wait for the first's lock forever.)
    drop(c);
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let args = args_file(dir.path(), &c);
    let exe = dir.path().join("AnsiballZ_machineset_bootimage");
    std::os::unix::fs::symlink(binary(), &exe).unwrap();
    let text = in_pty(&format!("{} {}", exe.display(), args.display())).unwrap();
    assert!(!text.contains(['\x1b', '\r']), "{text:?}");
    let result: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(result["changed"], true, "{text}");
}

/// The README's 80-column example is what the binary prints.
#[test]
fn the_readme_shows_the_real_80_column_output() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let marker = "exactly as the binary prints it:\n\n```\n";
    let start = readme.find(marker).expect("the CLI example in README.md") + marker.len();
    let end = start + readme[start..].find("```\n").unwrap();
    assert_eq!(&readme[start..end], audit(&["-o", "table"]));
}

/// `runs` after one update: RUN, STARTED, STATE, OBJECTS within 80 columns; `-o wide`
/// adds CHANGES, MODULES and ROLLS BACK.
#[test]
fn runs_prints_the_record_as_a_table() {
    let c = cluster();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary())
        .args(["machineset_bootimage", "--args-file"])
        .arg(args_file(dir.path(), &c))
        .output()
        .unwrap();
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let run_id = result["run_id"].as_str().unwrap().to_string();
    let runs = |format: &str| {
        let out = Command::new(binary())
            .args(["runs", "--record-path"])
            .arg(dir.path().join("record.json"))
            .args(["-o", format])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let table = runs("table");
    assert!(table.lines().all(|l| l.chars().count() <= 80), "{table}");
    assert_eq!(
        rows_of(&table, &["RUN", "STARTED", "STATE", "OBJECTS"]).len(),
        1,
        "{table}"
    );
    let row = table.lines().find(|l| l.starts_with(&run_id)).unwrap();
    assert_eq!(tokens(row)[2..], ["applied", "4"], "{table}");
    let wide = runs("wide");
    let row = wide.lines().find(|l| l.starts_with(&run_id)).unwrap();
    assert_eq!(
        tokens(row)[2..],
        ["applied", "4", "4", "machineset_bootimage", "-"],
        "{wide}"
    );
}
