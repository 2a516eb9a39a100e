//! `confide`: a thin CLI over the server library. Machine-readable output (`--json`) goes to
//! stdout; progress and logs go to stderr. Exit 0 on success, 1 when the command failed, 2 when it
//! could not start (bad configuration or arguments), each with a one-line reason.

mod auth_commands;
mod commands;
mod data_commands;
mod demo;

use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "confide",
    version,
    about = "A self-hosted, end-to-end accountable WhatsApp inbox."
)]
struct Cli {
    /// A TOML configuration file (settings can also come from CONFIDE_* environment variables).
    #[arg(long, global = true, env = "CONFIDE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Public listener address (port 0 picks a free port).
        #[arg(long)]
        listen: Option<SocketAddr>,
        /// Admin (metrics) listener address.
        #[arg(long)]
        admin_listen: Option<SocketAddr>,
        /// Also simulate Meta's API in-process, with a demo tenant, channel and customers.
        #[arg(long)]
        demo: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Manage the keyring of key-encryption keys.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Manage tenants.
    Tenant {
        #[command(subcommand)]
        action: TenantAction,
    },
    /// Respond to a security incident.
    Incident {
        #[command(subcommand)]
        action: IncidentAction,
    },
    /// Check the audit log.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Manage API keys.
    ApiKey {
        #[command(subcommand)]
        action: ApiKeyAction,
    },
    /// Manage team members.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// Manage platform operators.
    PlatformAdmin {
        #[command(subcommand)]
        action: PlatformAdminAction,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Create the keyring file (refuses to overwrite one).
    Init,
    /// Add a new key-encryption key and rewrap every tenant key with it, online.
    Rotate,
    /// Show key ids, ages and how many tenant keys each one wraps.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Remove an old key-encryption key once no tenant key depends on it.
    Retire { kek_id: String },
}

#[derive(Subcommand)]
enum TenantAction {
    /// Create a tenant and its owner, who gets a one-time password.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        json: bool,
    },
    /// Erase a tenant for good: its keys are destroyed first (crypto-shredding), then its rows
    /// and media are deleted. Its audit log stays.
    Erase {
        #[arg(long)]
        tenant: String,
        /// Confirms the erasure (it cannot be undone).
        #[arg(long)]
        yes: bool,
    },
    /// Show or change a tenant's data settings: the region of local phone numbers in imports,
    /// and how many days messages and ended sessions are kept (0 clears: kept for ever).
    Settings {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        default_region: Option<String>,
        #[arg(long)]
        retention_messages_days: Option<i64>,
        #[arg(long)]
        retention_security_days: Option<i64>,
    },
}

#[derive(Subcommand)]
enum IncidentAction {
    /// End every session and API key of a tenant at once, revoke support access, and mark its
    /// channels' secrets for rotation.
    Revoke {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        json: bool,
    },
    /// What the audit log says was read, exported, sent or changed in a time range, by whom,
    /// and which contacts it touched (RFC 3339 times; `until` excluded).
    Report {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        since: String,
        #[arg(long)]
        until: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyAction {
    /// Create an API key for a tenant, scoped to a role (name or id); the key is shown once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum UserAction {
    /// Give a user a new one-time password, end their sessions and clear their sign-in lock.
    ResetPassword {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum PlatformAdminAction {
    /// Create a platform operator with a one-time password.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum AuditAction {
    /// Walk the hash chain(s); fail naming the first bad entry.
    Verify {
        #[arg(long)]
        tenant: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// A failed command: its exit code and one line.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

impl Failure {
    pub fn config(message: impl Into<String>) -> Self {
        Failure {
            code: 2,
            message: message.into(),
        }
    }
    pub fn failed(message: impl Into<String>) -> Self {
        Failure {
            code: 1,
            message: message.into(),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("confide: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("confide: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let loaded =
        confide_app::config::load(cli.config.as_deref()).map_err(|e| Failure::config(e.0))?;
    let mut config = loaded.config;
    confide_server::telemetry::init_logging(&config.log);
    for w in &loaded.warnings {
        tracing::warn!("{w}");
    }
    match cli.command {
        Command::Serve {
            listen,
            admin_listen,
            demo,
        } => {
            if let Some(a) = listen {
                config.listen = a;
            }
            if let Some(a) = admin_listen {
                config.admin_listen = a;
            }
            commands::serve(config, demo).await
        }
        Command::Migrate => commands::migrate(&config).await,
        Command::Keys { action } => match action {
            KeysAction::Init => commands::keys_init(&config),
            KeysAction::Rotate => commands::keys_rotate(&config).await,
            KeysAction::Status { json } => commands::keys_status(&config, json).await,
            KeysAction::Retire { kek_id } => commands::keys_retire(&config, &kek_id).await,
        },
        Command::Tenant {
            action:
                TenantAction::Create {
                    name,
                    owner_email,
                    json,
                },
        } => commands::tenant_create(&config, &name, &owner_email, json).await,
        Command::Tenant {
            action: TenantAction::Erase { tenant, yes },
        } => data_commands::tenant_erase(&config, &tenant, yes).await,
        Command::Tenant {
            action:
                TenantAction::Settings {
                    tenant,
                    default_region,
                    retention_messages_days,
                    retention_security_days,
                },
        } => {
            data_commands::tenant_settings(
                &config,
                &tenant,
                default_region,
                retention_messages_days,
                retention_security_days,
            )
            .await
        }
        Command::Incident {
            action: IncidentAction::Revoke { tenant, json },
        } => data_commands::incident_revoke(&config, &tenant, json).await,
        Command::Incident {
            action:
                IncidentAction::Report {
                    tenant,
                    since,
                    until,
                    json,
                },
        } => data_commands::incident_report(&config, &tenant, &since, &until, json).await,
        Command::Audit {
            action: AuditAction::Verify { tenant, json },
        } => commands::audit_verify(&config, tenant.as_deref(), json).await,
        Command::ApiKey {
            action:
                ApiKeyAction::Create {
                    tenant,
                    role,
                    name,
                    json,
                },
        } => auth_commands::api_key_create(&config, &tenant, &role, &name, json).await,
        Command::User {
            action:
                UserAction::ResetPassword {
                    tenant,
                    email,
                    json,
                },
        } => auth_commands::user_reset_password(&config, &tenant, &email, json).await,
        Command::PlatformAdmin {
            action: PlatformAdminAction::Create { email, json },
        } => auth_commands::platform_admin_create(&config, &email, json).await,
    }
}
