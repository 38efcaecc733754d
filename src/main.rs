//! `efd-lb`: the appliance's command line entry point.
//!
//! Exit status: 0 when the run stopped cleanly; 1 when it failed while
//! running or stopping ([`efd_lb::app::EXIT_RUN`]); 2 when it did not start
//! ([`efd_lb::app::EXIT_START`]: a bad flag, configuration, flow file,
//! snapshot, pcap or device, or not enough memory). Every error is one line
//! on stderr, `efd-lb: ` first.

use efd_lb::app::EXIT_START;
use std::process::ExitCode;

fn main() -> ExitCode {
    // `efd-lb ctl ...`: the control API's client, with its own command line.
    if std::env::args_os().nth(1).is_some_and(|a| a == "ctl") {
        return efd_lb::ctl::main(std::env::args_os().skip(1));
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("EFD_LB_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let stdout_closed = efd_lb::app::stdout_was_closed();
    if stdout_closed {
        eprintln!("efd-lb: warning: stdout is closed: the stats will not be seen");
    }
    let settings = match efd_lb::config::parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("efd-lb: {e}");
            return ExitCode::from(EXIT_START);
        }
    };
    if let Some(traffic) = &settings.traffic {
        if let Err(e) = efd_lb::app::generate_test_traffic(traffic) {
            eprintln!("efd-lb: {e}");
            return ExitCode::from(EXIT_START);
        }
    }
    match efd_lb::app::run(&settings) {
        Ok(outcome) => {
            let (lines, status) = outcome.verdict(stdout_closed);
            for l in &lines {
                eprintln!("efd-lb: {l}");
            }
            ExitCode::from(status)
        }
        Err(e) => {
            eprintln!("efd-lb: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
