//! `fieldkit power`: for technicians. `probe` reads the live sensors, `decode` turns a raw
//! charger capture into JSON lines, `simulate` runs the solar kit model under a policy,
//! `evaluate` judges the policies against the oracle over many generated weather traces.

mod decode;
#[cfg(feature = "simulation")]
mod evaluate;
pub(crate) mod probe;
#[cfg(feature = "simulation")]
mod simulate;

pub use decode::DecodeArgs;
#[cfg(feature = "simulation")]
pub use evaluate::EvaluateArgs;
pub use probe::ProbeArgs;
#[cfg(feature = "simulation")]
pub use simulate::SimulateArgs;

/// Technician commands for the power system.
#[derive(Debug, clap::Subcommand)]
pub enum PowerCommand {
    /// Live readings from the fuel gauge, current monitors and charge controller.
    Probe(ProbeArgs),
    /// Decode a raw capture (VE.Direct or Modbus RTU) to JSON lines, then a summary line.
    Decode(DecodeArgs),
    /// Simulate the kit over days of weather under a power policy (or several, side by side).
    #[cfg(feature = "simulation")]
    Simulate(SimulateArgs),
    /// Judge the policies against the oracle (the most availability the weather allows) over
    /// many generated weather traces: median and worst, per weather family.
    #[cfg(feature = "simulation")]
    Evaluate(EvaluateArgs),
}

/// Runs one power subcommand.
pub fn run(cmd: PowerCommand) -> anyhow::Result<()> {
    match cmd {
        PowerCommand::Probe(a) => probe::run(a),
        PowerCommand::Decode(a) => decode::run(a),
        #[cfg(feature = "simulation")]
        PowerCommand::Simulate(a) => simulate::run(a),
        #[cfg(feature = "simulation")]
        PowerCommand::Evaluate(a) => evaluate::run(a),
    }
}
