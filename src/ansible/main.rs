//! Ansible mode: the binary run as `<module> <args-file>` (a copy or link named after a
//! module; Ansible runs it as `AnsiballZ_<module>`). Reads the args file, runs the
//! module, and whatever happens — unreadable file, bad JSON, a panic — prints exactly
//! one JSON object on stdout.

use std::process::ExitCode;

use super::entry::ModuleEntry;
use super::result::ModuleResult;

/// The module name Ansible runs us as: basename of argv[0], minus `AnsiballZ_` and any extension.
pub fn module_name(argv0: &str) -> String {
    let base = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let base = base.strip_prefix("AnsiballZ_").unwrap_or(base);
    base.split('.').next().unwrap_or(base).to_string()
}

/// Whether the binary was run the way Ansible runs a module: as `AnsiballZ_<name>`, or
/// under a name other than `ocp-bootimage…` with one argument that is a JSON object file
/// (the args file).
pub fn run_as_module(argv0: &str, args: &[String]) -> bool {
    let base = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    if base.starts_with("AnsiballZ_") {
        return true;
    }
    !base.starts_with("ocp-bootimage")
        && args.len() == 2
        && std::fs::read_to_string(&args[1])
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .is_some_and(|v| v.is_object())
}

/// The answer to a run as an unknown module: one JSON object, `failed`, naming the
/// modules this binary is.
pub fn unknown_module<'a>(name: &str, known: impl Iterator<Item = &'a str>) -> ExitCode {
    let known: Vec<&str> = known.collect();
    emit(ModuleResult::failure(format!(
        "no module named {name:?} in ocp-bootimage; the modules are: {} (the binary must be \
         copied or linked under one of these names)",
        known.join(", ")
    )))
}

fn emit(result: ModuleResult) -> ExitCode {
    let code = result.exit_code();
    println!("{}", result.into_json());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run_args_file(module: &ModuleEntry, args: &[String]) -> ModuleResult {
    let name = module.name;
    let Some(path) = args.get(1) else {
        return ModuleResult::failure(format!(
            "{name} is an Ansible module: run it as `{name} <args-file>` (Ansible does this), \
             or use `ocp-bootimage {name} --args-file FILE`"
        ));
    };
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => return ModuleResult::failure(format!("cannot read the args file {path}: {e}")),
    };
    let raw: serde_json::Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return ModuleResult::failure(format!("the args file {path} is not JSON: {e}")),
    };
    module.run_blocking(&raw)
}

/// Runs `module` as Ansible does (`args` is argv: the args file is `args[1]`).
pub fn run(module: &ModuleEntry, args: &[String]) -> ExitCode {
    // Keep stdout for the one JSON object: the default hook writes to stderr only.
    let result = std::panic::catch_unwind(|| run_args_file(module, args));
    let result = result.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        ModuleResult::failure(format!(
            "internal error (a bug in ocp-bootimage, please report it): {what}"
        ))
    });
    emit(result)
}
