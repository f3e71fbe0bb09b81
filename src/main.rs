//! Entry point: Ansible mode when argv[0] names a module (`AnsiballZ_` prefix
//! removed), the CLI otherwise. Whatever happens, Ansible mode prints exactly
//! one JSON object on stdout.

use std::process::ExitCode;

use ocp_bootimage::{ansible::ModuleResult, cli, modules};

/// The module name Ansible runs us as: basename of argv[0], minus `AnsiballZ_` and any extension.
fn module_name(argv0: &str) -> String {
    let base = std::path::Path::new(argv0)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let base = base.strip_prefix("AnsiballZ_").unwrap_or(base);
    base.split('.').next().unwrap_or(base).to_string()
}

fn emit(result: ModuleResult) -> ExitCode {
    let code = result.exit_code();
    println!("{}", result.into_json());
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn ansible_main(name: &str, args: &[String]) -> ExitCode {
    let result = std::panic::catch_unwind(|| -> ModuleResult {
        let Some(path) = args.get(1) else {
            return ModuleResult::failure(format!(
                "{name} is an Ansible module: run it as `{name} <args-file>` (Ansible does this), \
                 or use `ocp-bootimage {name} --args-file FILE`"
            ));
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                return ModuleResult::failure(format!("cannot read the args file {path}: {e}"))
            }
        };
        let raw: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                return ModuleResult::failure(format!("the args file {path} is not JSON: {e}"))
            }
        };
        cli::block_on_module(name, &raw)
    });
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

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let name = module_name(args.first().map(String::as_str).unwrap_or_default());
    if modules::is_module(&name) {
        // Keep stdout for the one JSON object: the default hook writes to stderr only.
        return ansible_main(&name, &args);
    }
    cli::main()
}
