//! `test-apiserver`: runs the test API server in the foreground, for benchmarks and
//! manual Ansible runs.
//!
//! ```text
//! test-apiserver [--port N] [--load PATH]... [--kubeconfig-out FILE] [--latency MS]
//! ```

use std::path::PathBuf;

use anyhow::{bail, Context};
use test_apiserver::TestApiServer;

const USAGE: &str =
    "usage: test-apiserver [--port N] [--load PATH]... [--kubeconfig-out FILE] [--latency MS]";

fn main() -> anyhow::Result<()> {
    let mut port = 0u16;
    let mut loads: Vec<PathBuf> = Vec::new();
    let mut kubeconfig_out: Option<PathBuf> = None;
    let mut latency_ms = 0u64;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .with_context(|| format!("{name} needs a value\n{USAGE}"))
        };
        match arg.as_str() {
            "--port" => {
                port = value("--port")?
                    .parse()
                    .context("--port must be a number")?
            }
            "--load" => loads.push(value("--load")?.into()),
            "--kubeconfig-out" => kubeconfig_out = Some(value("--kubeconfig-out")?.into()),
            // Every request waits this long before it is answered (a cluster far away,
            // for benchmarks of many clusters).
            "--latency" => {
                latency_ms = value("--latency")?
                    .parse()
                    .context("--latency must be a number of milliseconds")?
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument {other:?}\n{USAGE}"),
        }
    }
    let server = TestApiServer::start_on(port)?;
    if latency_ms > 0 {
        server.inject(test_apiserver::Fault::delay(latency_ms).times(usize::MAX));
    }
    for path in &loads {
        let n = server
            .load_path(path)
            .with_context(|| format!("loading {}", path.display()))?;
        eprintln!("loaded {n} objects from {}", path.display());
    }
    if let Some(out) = &kubeconfig_out {
        std::fs::write(out, server.kubeconfig_yaml())
            .with_context(|| format!("writing {}", out.display()))?;
        eprintln!("kubeconfig written to {}", out.display());
    }
    println!("{}", server.url());
    server.wait();
    Ok(())
}
