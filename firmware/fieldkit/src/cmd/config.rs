//! `fieldkit config template|show`.

use super::Ctx;

/// Configuration commands.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print a commented configuration file with every default.
    Template,
    /// Print the configuration in effect.
    Show,
}

/// Runs a config command.
pub fn run(ctx: &Ctx, cmd: ConfigCommand) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Template => print!("{}", crate::config::TEMPLATE),
        ConfigCommand::Show => {
            let mut c = ctx.config.clone();
            c.data_dir.clone_from(&ctx.data_dir);
            print!("{}", toml::to_string_pretty(&c)?);
        }
    }
    Ok(())
}
