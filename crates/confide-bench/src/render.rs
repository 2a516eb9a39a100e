//! The page benchmark (issue 12): on the big tenant, server-rendered pages fetched as a
//! signed-in browser fetches them (the owner signs in through `POST /api/v1/session`; each GET
//! carries the session cookie), one at a time: the inbox list in each view and conversation
//! pages (the list beside the thread of the latest 100 messages, notes, assignment). p50/p99 per
//! page kind; the budget is p99 < 20 ms.

use crate::bigtenant::{self, TenantArgs};
use crate::timed::{self, Kind};

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// Timed requests per page kind.
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Untimed requests per kind first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
}

const BUDGET_MS: f64 = 20.0;

pub async fn run(args: Args) -> Result<(), String> {
    let t = bigtenant::prepare(&args.tenant).await?;
    let server = t.serve(&[])?;
    let base = format!("http://{}", server.addr);
    let client = timed::client()?;
    let session = bigtenant::sign_in(
        &client,
        &base,
        t.str("owner_email"),
        t.str("owner_password"),
    )
    .await?;
    let samples = t.strings("sample_conversations");
    let long = t.strings("long_conversations");
    let mut kinds: Vec<Kind> = ["open", "mine", "unassigned", "resolved", "all"]
        .iter()
        .map(|v| {
            Kind::new(
                format!("page: inbox, {v}"),
                vec![format!("/inbox?view={v}")],
            )
        })
        .collect();
    kinds.push(Kind::new(
        "page: conversation (sample conversations)",
        samples
            .iter()
            .map(|c| format!("/inbox/{c}?view=all"))
            .collect(),
    ));
    kinds.push(Kind::new(
        "page: conversation (long conversations)",
        long.iter()
            .map(|c| format!("/inbox/{c}?view=all"))
            .collect(),
    ));
    println!(
        "render: {} contacts, {} messages on {}; {} timed pages per kind, one at a time, signed in as the owner",
        t.meta["contacts"],
        t.meta["messages"],
        t.str("engine"),
        args.requests
    );
    let headers = [("cookie", session.cookie.as_str())];
    let mut figures = Vec::new();
    for k in &kinds {
        figures.push(timed::run(&client, &base, &headers, k, args.warmup, args.requests).await);
    }
    server.stop()?;
    let ok = timed::report(&figures, BUDGET_MS);
    println!(
        "budget p99 < {BUDGET_MS} ms: {}",
        if ok { "met" } else { "MISSED" }
    );
    Ok(())
}
