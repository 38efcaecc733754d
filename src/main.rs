//! `efd-lb`: the appliance's command line entry point.

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
    let settings = match efd_lb::config::parse() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("efd-lb: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(traffic) = &settings.traffic {
        if let Err(e) = efd_lb::app::generate_test_traffic(traffic) {
            eprintln!("efd-lb: {e}");
            return ExitCode::FAILURE;
        }
    }
    match efd_lb::app::run(&settings) {
        Ok(outcome) if outcome.mbufs_in_use == 0 => ExitCode::SUCCESS,
        Ok(outcome) => {
            eprintln!(
                "efd-lb: {} mbufs were not returned to the pool at shutdown",
                outcome.mbufs_in_use
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("efd-lb: {e}");
            ExitCode::FAILURE
        }
    }
}
