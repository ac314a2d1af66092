//! `watchdesk`: the operator client, and `watchdesk site ...`: the reference
//! site server. Thin: parse the command line, call the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use watchdesk::config::SiteConfig;
use watchdesk::site::{SiteOptions, TlsFiles};

#[derive(Parser)]
#[command(
    name = "watchdesk",
    version,
    about = "Operator client for live video, access control and alarms"
)]
struct Cli {
    /// The site to connect to (https://host:port). Without it, the client
    /// starts the demo site as its child process and signs in to it.
    #[arg(long)]
    site: Option<String>,
    /// A CA certificate (PEM) to trust for the site's HTTPS.
    #[arg(long)]
    ca_cert: Option<PathBuf>,
    /// Pre-fill the sign-in form with this user.
    #[arg(long)]
    user: Option<String>,
    /// The demo site's config (default: config/site.toml).
    #[arg(long)]
    demo_config: Option<PathBuf>,
    /// Open on this view instead of the saved one: doors, cameras,
    /// cameras:3x3, cameras:4x4:fill.
    #[arg(long)]
    view: Option<String>,
    /// Accept an http:// site address that is not on this machine: the
    /// password and the session token then cross the network in clear text.
    #[arg(long)]
    allow_plain_http: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The reference site server.
    Site(SiteArgs),
}

#[derive(Parser)]
#[command(args_conflicts_with_subcommands = true)]
struct SiteArgs {
    #[command(subcommand)]
    command: Option<SiteCommand>,
    /// The site's config file.
    #[arg(long, default_value = "config/site.toml")]
    config: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the SQLite file and cached demo scenes live.
    #[arg(long, default_value = "data")]
    data_dir: PathBuf,
    /// Enable /api/v1/fault/* (answered to loopback callers only).
    #[arg(long)]
    fault_injection: bool,
    /// Run as a client's child: print the address once ready, stop when
    /// standard input closes.
    #[arg(long, hide = true)]
    embedded: bool,
    /// Serve HTTPS with this certificate (PEM)...
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// ...and this private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address that is not loopback (without TLS):
    /// passwords and session tokens then cross the network in clear text.
    /// Without it (or `[site] allow_plain_http = true`) the site refuses to
    /// start there.
    #[arg(long)]
    allow_plain_http: bool,
}

#[derive(Subcommand)]
enum SiteCommand {
    /// Read a password from standard input and print its argon2 hash for users.toml.
    HashPassword,
    /// Write a large generated site (for scale tests and benchmarks) into a
    /// folder; serve it with `watchdesk site --config DIR/site.toml`.
    Generate {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1000)]
        doors: usize,
        #[arg(long, default_value_t = 300)]
        cameras: usize,
        #[arg(long, default_value_t = 10_000)]
        cardholders: usize,
        #[arg(long, default_value_t = 10)]
        floors: usize,
        /// The demo config folder its users and floor image come from.
        #[arg(long, default_value = "config")]
        demo_config_dir: PathBuf,
    },
    /// Verify the audit trail's keyed chain and its head in a site's data folder.
    VerifyAudit {
        #[arg(long, default_value = "data")]
        data_dir: PathBuf,
        /// The audit key file (default: audit.key beside the store, in the data folder).
        #[arg(long)]
        key_file: Option<PathBuf>,
    },
}

/// glibc gives each thread that allocates its own malloc arena, up to 8 per
/// core: with a wall of cameras, each streaming thread's arena keeps freed
/// frames of its own. Two arenas take 5-8 MB off a 4×4 wall's RSS at no CPU
/// cost measured. The limit is only read when the process starts, so the
/// client starts itself again with it set (same PID, before any thread);
/// an `MALLOC_ARENA_MAX` already set, by this or by the user, is kept.
#[cfg(all(unix, target_env = "gnu"))]
fn limit_malloc_arenas() {
    use std::os::unix::process::CommandExt;
    const VAR: &str = "MALLOC_ARENA_MAX";
    if std::env::var_os(VAR).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env(VAR, "2")
        .exec();
    // Only returns on failure: go on as we are.
    eprintln!("watchdesk: could not restart with {VAR}=2 ({err}); going on without");
}

#[cfg(not(all(unix, target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.command.is_none() {
        limit_malloc_arenas();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,wgpu=warn,naga=warn,eframe=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        None => match watchdesk::app::run(watchdesk::app::ClientOptions {
            site: cli.site,
            ca_cert: cli.ca_cert,
            username: cli.user,
            demo_config: cli.demo_config,
            start_view: cli.view,
            allow_plain_http: cli.allow_plain_http,
        }) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(&e),
        },
        Some(Command::Site(args)) => site(args),
    }
}

fn site(args: SiteArgs) -> ExitCode {
    match args.command {
        Some(SiteCommand::HashPassword) => {
            match watchdesk::site::hash_password_line(std::io::stdin().lock()) {
                Ok(hash) => {
                    println!("{hash}");
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Some(SiteCommand::Generate {
            out,
            doors,
            cameras,
            cardholders,
            floors,
            demo_config_dir,
        }) => {
            let size = watchdesk::site::generate::SiteSize {
                doors,
                cameras,
                cardholders,
                floors,
            };
            match watchdesk::site::generate::write_site(&out, &demo_config_dir, size) {
                Ok(site) => {
                    println!("{}", site.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "watchdesk: cannot write the site into {}: {e}",
                        out.display()
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Some(SiteCommand::VerifyAudit { data_dir, key_file }) => {
            let verified = match key_file {
                None => watchdesk::site::verify_audit_dir(&data_dir),
                Some(key) => watchdesk::site::audit::verify_audit_file_with_key(
                    &data_dir.join("site.sqlite"),
                    &key,
                ),
            };
            match verified {
                Ok(v) if v.ok => {
                    println!("audit chain intact: {} entries", v.entries);
                    ExitCode::SUCCESS
                }
                Ok(v) => {
                    println!(
                        "audit chain BROKEN at entry {} ({} entries)",
                        v.first_bad.map_or("?".into(), |i| i.to_string()),
                        v.entries
                    );
                    ExitCode::FAILURE
                }
                Err(e) => fail(&e),
            }
        }
        None => {
            let mut config = match SiteConfig::load(&args.config) {
                Ok(c) => c,
                Err(e) => return fail(&e),
            };
            config.allow_plain_http |= args.allow_plain_http;
            let tls = match (args.tls_cert, args.tls_key) {
                (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                _ => None,
            };
            let opts = SiteOptions {
                config,
                listen: args.listen,
                data_dir: args.data_dir,
                fault_injection: args.fault_injection,
                tls,
            };
            let run = if args.embedded {
                watchdesk::site::run_embedded
            } else {
                watchdesk::site::run_headless
            };
            match run(opts) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("error: {e:#}");
    ExitCode::FAILURE
}
