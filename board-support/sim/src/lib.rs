//! A simulated solar kit for tests, the desktop and the technician's `simulate`: a battery,
//! panel and charge-controller model ([`model`]) on an accelerated clock ([`clock`]),
//! exposed as the devices the board has — an I2C bus with a MAX17048 and two INA226s
//! speaking their real register maps ([`i2c`]), and VE.Direct or Modbus RTU chargers on
//! real pseudo-terminals ([`pty`], [`speak`]) — and a runner ([`run`]) that drives a power
//! policy through the same drivers as the board over days of weather ([`weather`]).
//! For sync, the radios: RAK3172 LoRa modules joined by a simulated air with loss, SNR and
//! time on air ([`lora`]), and a SIM7600/EG25-G modem whose signal follows the simulated
//! hour ([`cellular`]), each on its own pseudo-terminal, speaking the AT vectors' lines;
//! the reunion field trial over them ([`reunion`]), and the simulated kiosk's links with an
//! in-process hub ([`links`]). For photos, a camera giving a
//! generated test picture as YUYV frames ([`camera`]).
//!
//! For judging policies: seeded families of weather ([`climate`]), the oracle that plans with
//! the whole trace known, the limit of what the kit could have done ([`oracle`]), and the
//! evaluation of policies against it over many traces ([`eval`]).
//!
//! **Never:** lets a policy see the weather or the model directly; a policy gets only what
//! the drivers read. The one exception is the oracle, which is not a policy a kit can run:
//! it is the measure the others are judged by. Never opens a real device.
//!
//! ```
//! use fieldkit_power::{AlwaysOn, PowerPolicy};
//! use fieldkit_sim::run::{simulate, SimConfig};
//! use fieldkit_sim::weather::WeatherTrace;
//! let config = SimConfig { days: 1, ..SimConfig::default() };
//! let mut policy = PowerPolicy::new(config.policy_config());
//! let report = simulate(&config, &WeatherTrace::clear(1), &mut policy);
//! assert_eq!(report.brownouts, 0);
//! ```

pub mod camera;
pub mod cellular;
pub mod climate;
pub mod clock;
pub mod eval;
pub mod i2c;
pub mod links;
pub mod live;
pub mod lora;
pub mod model;
pub mod oracle;
pub mod pty;
pub mod reunion;
pub mod run;
pub mod speak;
pub mod weather;
