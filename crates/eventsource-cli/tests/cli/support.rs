//! Running the real `eventsource` binary against a database in a temporary
//! folder, and the shared sample data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;
use tempfile::TempDir;

/// A temporary folder with an SQLite database file in it.
pub struct Workspace {
    dir: TempDir,
    database_url: String,
}

/// What one run of the binary did.
pub struct Run {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Workspace {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let database_url = format!("sqlite://{}", dir.path().join("events.db").display());
        Self { dir, database_url }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn database_url(&self) -> &str {
        &self.database_url
    }

    /// Writes `text` to a file in the folder and returns its path.
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, text).expect("writing a test file");
        path
    }

    /// A command for the binary, run in the folder, with no database URL
    /// or log level inherited from whoever runs the tests.
    pub fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_eventsource"));
        command
            .current_dir(self.dir.path())
            .env_remove("EVENTSOURCE_DATABASE_URL")
            .env_remove("RUST_LOG");
        command
    }

    /// Runs the binary with `--database` pointing at the folder's database.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_on(&self.database_url, args)
    }

    /// Runs the binary against another database URL.
    pub fn run_on(&self, database_url: &str, args: &[&str]) -> Run {
        let output = self
            .command()
            .arg("--database")
            .arg(database_url)
            .args(args)
            .output();
        Run::from(output.expect("the binary runs"))
    }

    /// Runs the binary with `stdin` as standard input.
    pub fn run_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Run {
        let mut child = self
            .command()
            .arg("--database")
            .arg(&self.database_url)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin)
            .expect("writing stdin");
        Run::from(child.wait_with_output().expect("the binary runs"))
    }

    /// Starts the binary against the folder's database without waiting for
    /// it, its stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command()
            .arg("--database")
            .arg(&self.database_url)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts")
    }

    /// Runs a command that must succeed, and returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.run(args).assert_success().stdout
    }

    /// `stats --format json`.
    pub fn stats(&self) -> Value {
        serde_json::from_str(&self.ok(&["stats", "--format", "json"])).expect("stats prints JSON")
    }

    /// The number of events in the database.
    pub fn total(&self) -> u64 {
        self.stats()["total"].as_u64().expect("a total")
    }
}

impl From<Output> for Run {
    fn from(output: Output) -> Self {
        Self {
            success: output.status.success(),
            stdout: String::from_utf8(output.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(output.stderr).expect("stderr is UTF-8"),
        }
    }
}

impl Run {
    pub fn assert_success(self) -> Self {
        assert!(
            self.success,
            "the command failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// Asserts a failure reported as exactly one `error:` line, without a
    /// panic, and returns that line.
    pub fn assert_one_line_error(self) -> String {
        assert!(!self.success, "the command succeeded: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "it panicked: {}", self.stderr);
        let lines: Vec<&str> = self
            .stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert_eq!(
            lines.len(),
            1,
            "expected one line on stderr, got: {}",
            self.stderr
        );
        assert!(lines[0].starts_with("error: "), "{}", lines[0]);
        lines[0].to_owned()
    }
}

/// The shared data folder beside the repository checkout.
pub fn shared_data(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(name);
    assert!(
        path.exists(),
        "sample data is missing at {}: the shared/ folder must sit beside the repository checkout",
        path.display()
    );
    path
}

/// The sample event log written by the Python reference library.
pub fn sample_path() -> PathBuf {
    shared_data("sample-small.jsonl")
}

pub fn sample_text() -> String {
    std::fs::read_to_string(sample_path()).expect("the sample log is readable")
}

/// The figures any correct import of the sample must reproduce.
pub fn expected_figures() -> Value {
    let text = std::fs::read_to_string(shared_data("sample-small.expected.json")).expect("readable");
    serde_json::from_str(&text).expect("the expected figures are JSON")
}

/// The sample's lines, parsed.
pub fn sample_events() -> Vec<Value> {
    sample_text()
        .lines()
        .map(|line| serde_json::from_str(line).expect("each sample line is JSON"))
        .collect()
}
