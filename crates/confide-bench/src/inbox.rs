//! The inbox benchmark (issue 10): on the big tenant, through the JSON API with an API key, one
//! request at a time: conversation lists with each filter (first pages and a deep page), a
//! conversation's messages (first and deep pages, short and long conversations), and contact
//! searches by phone, by label and by name. p50/p99 per kind; the budget is p99 < 10 ms.
//!
//! Filters the server does not offer (the conversation list's `label` and `q`, looked up in its
//! OpenAPI document; name search in contacts, which answers 422 `unsearchable_query` where it
//! is not built) are reported as missing rather than timed.

use crate::bigtenant::{self, BigTenant, TenantArgs};
use crate::timed::{self, Kind, encode};
use serde_json::Value;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    tenant: TenantArgs,
    /// Timed requests per kind.
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Untimed requests per kind first.
    #[arg(long, default_value_t = 20)]
    warmup: usize,
}

const BUDGET_MS: f64 = 10.0;

async fn get_json(client: &reqwest::Client, url: &str, auth: &str) -> Result<(u16, Value), String> {
    let r = client
        .get(url)
        .header("authorization", auth)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.json().await.unwrap_or_default()))
}

/// The query parameters the server documents for `GET path`.
fn documented_params(openapi: &Value, path: &str) -> Vec<String> {
    openapi["paths"][path]["get"]["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| p["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Follows `next_cursor` from `first` for up to `pages` pages; the cursors met, in order.
async fn cursors(
    client: &reqwest::Client,
    base: &str,
    auth: &str,
    first: &str,
    pages: usize,
) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut url = format!("{base}{first}");
    let sep = if first.contains('?') { '&' } else { '?' };
    for _ in 0..pages {
        let (status, v) = get_json(client, &url, auth).await?;
        if status != 200 {
            return Err(format!("{first}: {status} {v}"));
        }
        let Some(c) = v["next_cursor"].as_str() else {
            break;
        };
        out.push(c.to_string());
        url = format!("{base}{first}{sep}cursor={}", encode(c));
    }
    Ok(out)
}

fn with_cursor(path: &str, cursor: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}cursor={}", encode(cursor))
}

/// The first word of each sample name.
fn name_words(t: &BigTenant) -> Vec<String> {
    t.strings("sample_names")
        .iter()
        .filter_map(|n| n.split_whitespace().next().map(str::to_string))
        .collect()
}

pub async fn run(args: Args) -> Result<(), String> {
    let t = bigtenant::prepare(&args.tenant).await?;
    let server = t.serve(&[])?;
    let base = format!("http://{}", server.addr);
    let client = timed::client()?;
    let auth = format!("Bearer {}", t.str("api_key"));
    let owner = t.str("owner_user_id").to_string();
    let (_, openapi) = get_json(&client, &format!("{base}/api/v1/openapi.json"), &auth).await?;
    let conv_params = documented_params(&openapi, "/api/v1/conversations");
    let labels = t.strings("labels");
    let samples = t.strings("sample_conversations");
    let long = t.strings("long_conversations");
    let names = name_words(&t);
    let mut missing: Vec<String> = Vec::new();

    let list = "/api/v1/conversations?limit=50";
    let mut kinds = vec![
        Kind::new("conversations: open", vec![format!("{list}&status=open")]),
        Kind::new(
            "conversations: resolved",
            vec![format!("{list}&status=resolved")],
        ),
        Kind::new(
            "conversations: mine (open, assigned to me)",
            vec![format!("{list}&status=open&assignee={owner}")],
        ),
        Kind::new(
            "conversations: unassigned (open)",
            vec![format!("{list}&status=open&assignee=none")],
        ),
        Kind::new("conversations: all", vec![list.to_string()]),
    ];
    if conv_params.iter().any(|p| p == "label") {
        kinds.push(Kind::new(
            "conversations: by label",
            labels
                .iter()
                .map(|l| format!("{list}&label={}", encode(l)))
                .collect(),
        ));
    } else {
        missing.push("conversations by label: GET /api/v1/conversations has no `label` parameter on this server".into());
    }
    if let Some(param) = conv_params.iter().find(|p| *p == "q" || *p == "search") {
        kinds.push(Kind::new(
            "conversations: search (a name)",
            names
                .iter()
                .map(|n| format!("{list}&{param}={}", encode(n)))
                .collect(),
        ));
    } else {
        missing.push(
            "conversations search: GET /api/v1/conversations has no `q` (or `search`) parameter on this server"
                .into(),
        );
    }
    // Deep pages of the open list: pages 2 to 21.
    let deep = cursors(&client, &base, &auth, &format!("{list}&status=open"), 20).await?;
    kinds.push(Kind::new(
        format!("conversations: open, pages 2-{}", deep.len() + 1),
        deep.iter()
            .map(|c| with_cursor(&format!("{list}&status=open"), c))
            .collect(),
    ));
    kinds.push(Kind::new(
        "messages: first page (sample conversations)",
        samples
            .iter()
            .map(|c| format!("/api/v1/conversations/{c}/messages?limit=50"))
            .collect(),
    ));
    kinds.push(Kind::new(
        "messages: first page (long conversations)",
        long.iter()
            .map(|c| format!("/api/v1/conversations/{c}/messages?limit=50"))
            .collect(),
    ));
    let mut deep_messages = Vec::new();
    for c in &long {
        let first = format!("/api/v1/conversations/{c}/messages?limit=50");
        for cur in cursors(&client, &base, &auth, &first, 200).await? {
            deep_messages.push(with_cursor(&first, &cur));
        }
    }
    // Spread the deep pages evenly over the run (middle and end of each conversation).
    let stride = (deep_messages.len() / 97).max(1);
    kinds.push(Kind::new(
        format!(
            "messages: deep pages (long conversations, {} pages)",
            deep_messages.len()
        ),
        deep_messages.into_iter().step_by(stride).collect(),
    ));
    kinds.push(Kind::new(
        "contacts: by phone",
        t.strings("sample_phones")
            .iter()
            .map(|p| format!("/api/v1/contacts?q={}", encode(p)))
            .collect(),
    ));
    kinds.push(Kind::new(
        "contacts: by label",
        labels
            .iter()
            .map(|l| format!("/api/v1/contacts?label={}", encode(l)))
            .collect(),
    ));
    let name_probe = names.first().cloned().unwrap_or_else(|| "Ana".into());
    let (status, body) = get_json(
        &client,
        &format!("{base}/api/v1/contacts?q={}", encode(&name_probe)),
        &auth,
    )
    .await?;
    if status == 200 {
        if body["contacts"].as_array().is_none_or(|a| a.is_empty()) {
            missing.push(format!(
                "contacts by name: `q={name_probe}` answers 200 but finds nobody (contacts generated before name search existed? --regenerate)"
            ));
        }
        kinds.push(Kind::new(
            "contacts: by name (one word)",
            names
                .iter()
                .map(|n| format!("/api/v1/contacts?q={}", encode(n)))
                .collect(),
        ));
    } else {
        missing.push(format!(
            "contacts by name: `GET /api/v1/contacts?q={name_probe}` answers {status} {} (name search is not on this server)",
            body["error"]["code"]
        ));
    }

    println!(
        "inbox: {} contacts, {} messages, {} conversations on {}; {} timed requests per kind, one at a time, API key",
        t.meta["contacts"],
        t.meta["messages"],
        t.meta["conversations"],
        t.str("engine"),
        args.requests
    );
    let mut figures = Vec::new();
    let headers = [("authorization", auth.as_str())];
    for k in &kinds {
        figures.push(timed::run(&client, &base, &headers, k, args.warmup, args.requests).await);
    }
    server.stop()?;
    let ok = timed::report(&figures, BUDGET_MS);
    for m in &missing {
        println!("not measured: {m}");
    }
    println!(
        "budget p99 < {BUDGET_MS} ms: {}",
        if ok { "met" } else { "MISSED" }
    );
    Ok(())
}
