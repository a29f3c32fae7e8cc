//! `yilian` — the command line: demo, serve, migrate, generate, import,
//! export, backup, restore, user, mpi, audit, insurance. Every command takes
//! `--db URL` (or `YILIAN_DB`); the default is the embedded SQLite file
//! `yilian.db`.
#![forbid(unsafe_code)]

mod claims;
mod csvio;
mod exams;
mod generate;
mod monitor;
mod surveil;

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use yilian_server::service::{self, UserInput};
use yilian_server::{AppState, Settings};
use yilian_store::{Store, backup};

#[derive(Debug, Parser)]
#[command(
    name = "yilian",
    version,
    about = "医联 yilian — integrated tiered-care platform for a county or city"
)]
struct Cli {
    /// Database URL: sqlite://PATH (embedded default) or postgres://…
    #[arg(long, global = true, env = "YILIAN_DB", default_value = yilian_store::DEFAULT_URL)]
    db: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate the demo county into the store if it is empty, then serve.
    Demo {
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
        /// Password for the seeded demo logins.
        #[arg(long, env = "YILIAN_DEMO_PASSWORD", default_value = "yilian-demo")]
        demo_password: String,
    },
    /// Serve the web pages and the API.
    Serve {
        #[arg(long, env = "YILIAN_ADDR", default_value = "127.0.0.1:8080")]
        addr: String,
        /// Mark cookies Secure (when served behind HTTPS).
        #[arg(long)]
        secure_cookies: bool,
    },
    /// Apply the backend's migrations.
    Migrate,
    /// Generate a synthetic county (deterministic by seed) into an empty store.
    Generate {
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Share of deliberate duplicate registrations (ground truth kept).
        #[arg(long, default_value_t = 0.02)]
        duplicate_rate: f64,
        /// Also create one demo login per role with this password.
        #[arg(long)]
        demo_password: Option<String>,
        /// Leave out the slowest derived stages (for benchmark data that
        /// measures something else): `claims`, `surveillance`.
        #[arg(long, value_delimiter = ',')]
        skip: Vec<generate::Stage>,
    },
    /// Export a registry as CSV.
    Export {
        what: Registry,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a registry from CSV. Every row is validated; a file with bad rows
    /// changes nothing unless --skip-invalid.
    Import {
        what: Registry,
        file: PathBuf,
        #[arg(long)]
        skip_invalid: bool,
    },
    /// Back up the store (SQLite: online copy; PostgreSQL: pg_dump).
    Backup { file: PathBuf },
    /// Restore a backup (SQLite: stop the server first; PostgreSQL: pg_restore).
    Restore { file: PathBuf },
    /// Manage logins.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Master patient index: duplicate detection.
    Mpi {
        #[command(subcommand)]
        command: MpiCommand,
    },
    /// The health-record access log.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Insurance (医保) claims.
    Insurance {
        #[command(subcommand)]
        command: InsuranceCommand,
    },
    /// 规划指标 — evaluate a plan file (e.g. config/plans/seed002-a.toml)
    /// against the registries on a date.
    Indicators {
        /// The plan (TOML); errors name the file, line and field.
        #[arg(long)]
        plan: PathBuf,
        /// `YYYY-MM-DD` (default: today).
        #[arg(long)]
        at: Option<chrono::NaiveDate>,
        #[arg(long, value_enum, default_value = "table")]
        format: monitor::OutputFormat,
    },
    /// 绩效考核 — score and rank every county consortium and institution
    /// for a year with the scorecard (config/scorecard.toml or YILIAN_SCORECARD).
    Evaluate {
        #[arg(long)]
        year: i32,
        #[arg(long, value_enum, default_value = "table")]
        format: monitor::OutputFormat,
    },
    /// Public-health surveillance and early warning (监测预警).
    Surveil {
        #[command(subcommand)]
        command: SurveilCommand,
    },
}

#[derive(Debug, Subcommand)]
enum SurveilCommand {
    /// Run every early-warning algorithm over the stored counts for one day
    /// and raise the signals (a re-run raises nothing twice).
    Run {
        /// `YYYY-MM-DD` (default: today).
        #[arg(long)]
        date: Option<chrono::NaiveDate>,
    },
    /// Score every algorithm and threshold against generated outbreaks:
    /// sensitivity, false signals per county per week, median days to
    /// detection (no store needed).
    Evaluate {
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        #[arg(long, default_value_t = 100_000)]
        residents: usize,
        /// Days scored (the most recent; earlier years are the history).
        #[arg(long, default_value_t = 730)]
        days: usize,
    },
}

#[derive(Debug, Subcommand)]
enum InsuranceCommand {
    /// Recompute every claim of a year from its stored policy version,
    /// encounter and year-to-date payments; prints how many reproduce and
    /// the claims per second, and exits non-zero if any differ.
    Recompute {
        #[arg(long)]
        year: i32,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the access log's hash chain; exits non-zero naming the first
    /// broken entry.
    Verify,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a login; the password is read from standard input.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
        /// Institution code, region code, or the resident's identity number.
        #[arg(long)]
        scope: Option<String>,
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum MpiCommand {
    /// Find duplicate candidates over the whole store and store them; where the
    /// generator's ground truth exists, report precision and recall.
    Scan,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Registry {
    Regions,
    Institutions,
    Practitioners,
    Residents,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("YILIAN_LOG")
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

async fn run(cli: Cli) -> CliResult {
    let db = cli.db.clone();
    match cli.command {
        Command::Migrate => {
            Store::open(&db).await?;
            eprintln!("migrations applied to {}", yilian_store::redact(&db));
        }
        Command::Serve {
            addr,
            secure_cookies,
        } => {
            let store = Store::open(&db).await?;
            serve(
                store,
                &addr,
                Settings {
                    secure_cookies,
                    ..Settings::default()
                },
            )
            .await?;
        }
        Command::Demo {
            residents,
            seed,
            addr,
            demo_password,
        } => {
            let store = Store::open(&db).await?;
            if generate::is_empty(&store).await? {
                generate::run(&store, seed, residents, 0.02, &[]).await?;
                generate::demo_users(&store, &demo_password).await?;
            } else {
                eprintln!("the store already holds a county; serving it as it is");
            }
            generate::print_logins(&store, &demo_password).await?;
            serve(store, &addr, Settings::default()).await?;
        }
        Command::Generate {
            residents,
            seed,
            duplicate_rate,
            demo_password,
            skip,
        } => {
            let store = Store::open_as(&db, yilian_store::Load::Bulk).await?;
            if !generate::is_empty(&store).await? {
                return Err("the store is not empty: generate into a fresh database".into());
            }
            generate::run(&store, seed, residents, duplicate_rate, &skip).await?;
            if let Some(pw) = demo_password {
                generate::demo_users(&store, &pw).await?;
                generate::print_logins(&store, &pw).await?;
            }
        }
        Command::Export { what, out } => {
            let store = Store::open(&db).await?;
            let writer: Box<dyn std::io::Write> = match out {
                Some(p) => Box::new(std::fs::File::create(p)?),
                None => Box::new(std::io::stdout()),
            };
            let n = csvio::export(&store, what, writer).await?;
            eprintln!("exported {n} rows");
        }
        Command::Import {
            what,
            file,
            skip_invalid,
        } => {
            let store = Store::open(&db).await?;
            let report = csvio::import(&store, what, &file, skip_invalid).await?;
            for (line, msg) in &report.bad {
                eprintln!("line {line}: {msg}");
            }
            if !report.bad.is_empty() && !skip_invalid {
                return Err(format!("{} bad rows; nothing was imported (use --skip-invalid to import the good rows)", report.bad.len()).into());
            }
            eprintln!(
                "imported {} rows, skipped {} bad rows",
                report.imported,
                report.bad.len()
            );
        }
        Command::Backup { file } => {
            let store = Store::open(&db).await?;
            backup::backup(&store, &file).await?;
            eprintln!("backup written to {}", file.display());
        }
        Command::Restore { file } => {
            backup::restore(&db, &file).await?;
            eprintln!(
                "restored {} into {}",
                file.display(),
                yilian_store::redact(&db)
            );
        }
        Command::User {
            command:
                UserCommand::Create {
                    username,
                    role,
                    scope,
                    password_stdin,
                },
        } => {
            if !password_stdin {
                return Err("pass the password on standard input with --password-stdin".into());
            }
            let mut password = String::new();
            std::io::stdin().read_to_string(&mut password)?;
            let store = Store::open(&db).await?;
            let input = UserInput {
                username,
                password: password.trim_end_matches(['\n', '\r']).to_string(),
                role,
                scope,
            };
            let u = service::create_user(&store, &input)
                .await
                .map_err(|e| e.body.message_en)?;
            eprintln!("created user {} ({}) id {}", u.username, u.role, u.id);
        }
        Command::Mpi {
            command: MpiCommand::Scan,
        } => {
            let store = Store::open(&db).await?;
            generate::scan_and_evaluate(&store).await?;
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let store = Store::open(&db).await?;
            let mut c = store.read().await?;
            let v = yilian_store::records::verify(&mut c).await?;
            match v.broken {
                None => println!("access log intact: {} entries verified", v.checked),
                Some(b) => {
                    return Err(format!(
                        "access log broken at entry {}: {} ({} entries before it verified)",
                        b.id, b.why, v.checked
                    )
                    .into());
                }
            }
        }
        Command::Insurance {
            command: InsuranceCommand::Recompute { year },
        } => {
            let store = Store::open(&db).await?;
            claims::recompute(&store, year).await?;
        }
        Command::Indicators { plan, at, format } => {
            let store = Store::open(&db).await?;
            let at = at.unwrap_or_else(yilian_server::state::today);
            monitor::indicators(&store, &plan, at, format).await?;
        }
        Command::Evaluate { year, format } => {
            let store = Store::open(&db).await?;
            let today = yilian_server::state::today();
            let at = chrono::NaiveDate::from_ymd_opt(year, 12, 31).map_or(today, |d| d.min(today));
            monitor::evaluate(&store, year, at, format).await?;
        }
        Command::Surveil {
            command: SurveilCommand::Run { date },
        } => {
            let store = Store::open(&db).await?;
            surveil::run(&store, date.unwrap_or_else(yilian_server::state::today)).await?;
        }
        Command::Surveil {
            command:
                SurveilCommand::Evaluate {
                    seed,
                    residents,
                    days,
                },
        } => surveil::evaluate_cmd(seed, residents, days, yilian_server::state::today())?,
    }
    Ok(())
}

async fn serve(store: Store, addr: &str, settings: Settings) -> CliResult {
    yilian_server::prepare(&store).await?;
    if settings.assets.is_none() {
        eprintln!(
            "warning: front-end assets (web/dist) not found; run `make assets` — pages work without htmx"
        );
    }
    let state = AppState::new(store, settings);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    eprintln!("yilian serving at http://{}", listener.local_addr()?);
    yilian_server::serve(state, listener).await?;
    Ok(())
}
