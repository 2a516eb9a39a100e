//! `meta-sim --listen ADDR --config FILE`: the Cloud API simulator as a process, for demos and
//! benchmarks. Prints the bound address, serves until Ctrl-C.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Parser;
use confide_core::clock::SystemClock;
use meta_sim::{Sim, SimConfig};

#[derive(Debug, Parser)]
#[command(
    name = "meta-sim",
    about = "A simulator of Meta's WhatsApp Business Cloud API"
)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Numbers, users, templates and callbacks: TOML (`.toml`) or JSON.
    #[arg(long)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let config = match &args.config {
        Some(path) => match SimConfig::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("meta-sim: {e}");
                return std::process::ExitCode::from(2);
            }
        },
        None => SimConfig::default(),
    };
    let numbers = config.numbers.len();
    let sim = match Sim::start_on(config, Arc::new(SystemClock), args.listen).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("meta-sim: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    {
        // The first line is read by scripts and tests to learn the address; a closed stdout
        // must not stop the simulator.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "meta-sim listening on {}\ngraph base url: {} ({numbers} phone numbers)",
            sim.base_url(),
            sim.graph_url()
        );
        let _ = out.flush();
    }
    let _ = tokio::signal::ctrl_c().await;
    sim.shutdown().await;
    std::process::ExitCode::SUCCESS
}
