//! Entry point: Ansible mode when argv[0] names a module (`AnsiballZ_` prefix
//! removed) or run the way Ansible runs a module (`AnsiballZ_<name>`, or `<name>
//! <args-file>`) under a name that is no module (a JSON failure naming the modules), the
//! CLI otherwise. Whatever happens, Ansible mode prints exactly
//! one JSON object on stdout.
//!
//! The static (musl) binary allocates with mimalloc: musl's malloc made a fleet audit,
//! which parses thousands of objects on every core, 2.7 times slower (BENCHMARKS.md). It is
//! built without transparent huge pages (`no_thp`, docs/decisions.md).

use std::process::ExitCode;

#[cfg(target_env = "musl")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ocp_bootimage::{ansible, cli, modules};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let argv0 = args.first().map(String::as_str).unwrap_or_default();
    let name = ansible::main::module_name(argv0);
    match modules::find(&name) {
        Some(module) => ansible::main::run(module, &args),
        // Run by Ansible under a name that is no module: still one JSON object.
        None if ansible::main::run_as_module(argv0, &args) => {
            ansible::main::unknown_module(&name, modules::names())
        }
        None => cli::main(),
    }
}
