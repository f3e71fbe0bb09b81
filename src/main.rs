//! Entry point: Ansible mode when argv[0] names a module (`AnsiballZ_` prefix
//! removed), the CLI otherwise. Whatever happens, Ansible mode prints exactly
//! one JSON object on stdout.

use std::process::ExitCode;

use ocp_bootimage::{ansible, cli, modules};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().map(String::as_str).unwrap_or_default();
    match modules::find(&ansible::main::module_name(argv0)) {
        Some(module) => ansible::main::run(module, &args),
        None => cli::main(),
    }
}
