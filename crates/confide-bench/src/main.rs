//! `confide-bench`: benchmarks that print figures. Build in release first:
//!
//! ```sh
//! cargo build --release -p confide -p confide-bench
//! target/release/confide-bench ingest                       # SQLite
//! target/release/confide-bench ingest --shape realistic     # mostly one change per delivery
//! target/release/confide-bench ingest --postgres postgres://postgres@127.0.0.1:5432/postgres
//! target/release/confide-bench gate                         # send gate decisions
//! target/release/confide-bench flood                        # webhooks under a sign-in and API flood
//! target/release/confide-bench bigtenant                    # generate the 100k/1M tenant once
//! target/release/confide-bench inbox                        # inbox API queries on it
//! target/release/confide-bench render                       # inbox pages on it
//! target/release/confide-bench export                       # the full tenant export of it
//! target/release/confide-bench dispatch --throughput 80      # 10,000 template sends, paced
//! target/release/confide-bench dispatch --throughput 1000
//! ```

mod bare;
mod bigtenant;
mod dispatch;
mod export;
mod flood;
mod gate;
mod inbox;
mod ingest;
mod load;
mod procstat;
mod render;
mod shape;
mod timed;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "confide-bench", about = "Confide's benchmarks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Signed webhook ingest: a `confide serve` process, loaded over loopback from this process,
    /// compared with a bare HTTP endpoint that only answers 200.
    Ingest(ingest::Args),
    /// The send gate: decisions per second and per-decision latency over a realistic mix of
    /// ledgers, windows, templates and free-form sends (no I/O).
    Gate(gate::Args),
    /// Webhooks first: single-message webhooks while a sign-in flood and API load hit the same
    /// `confide serve` process; the webhooks' latency and refusals.
    Flood(flood::Args),
    /// Generate the big tenant (100,000 contacts, 1,000,000 messages by default) into its data
    /// directory, or say that it is there already; `inbox`, `render` and `export` reuse it.
    Bigtenant(bigtenant::TenantArgs),
    /// Inbox queries through the JSON API on the big tenant: conversation lists by filter,
    /// message pages, contact searches; p50/p99 per kind (budget p99 < 10 ms).
    Inbox(inbox::Args),
    /// Server-rendered inbox and conversation pages on the big tenant, signed in; p50/p99 per
    /// page (budget p99 < 20 ms).
    Render(render::Args),
    /// The full tenant export of the big tenant: wall time and server RSS growth (budget < 60 s,
    /// < 64 MB).
    Export(export::Args),
    /// The dispatcher: a broadcast of template sends on one channel against meta-sim, at the
    /// channel's throughput; the rate reached, meta-sim's refusals, and how soon a reply queued
    /// meanwhile leaves.
    Dispatch(dispatch::Args),
    /// The bare endpoint (started by `ingest` as a separate process).
    #[command(hide = true)]
    BareServer,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confide-bench: {e}");
            return ExitCode::from(1);
        }
    };
    let result = rt.block_on(async {
        match cli.command {
            Command::Ingest(args) => ingest::run(args).await,
            Command::Gate(args) => gate::run(args),
            Command::Flood(args) => flood::run(args).await,
            Command::Bigtenant(args) => bigtenant::prepare(&args).await.map(|_| ()),
            Command::Inbox(args) => inbox::run(args).await,
            Command::Render(args) => render::run(args).await,
            Command::Export(args) => export::run(args).await,
            Command::Dispatch(args) => dispatch::run(args).await,
            Command::BareServer => bare::serve().await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("confide-bench: {e}");
            ExitCode::from(1)
        }
    }
}
