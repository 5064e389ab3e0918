//! `fieldkit power decode`: a raw capture to JSON lines.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use serde_json::{Map, Value, json};

use fieldkit_drivers::charger::ModbusCharger;
use fieldkit_drivers::modbus::{self, Frame, ReadRequest, Response, Scan};
use fieldkit_drivers::vedirect::{self, Block};

/// The protocol of a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    /// Victron VE.Direct TEXT (with HEX frames interleaved).
    Vedirect,
    /// Renogy Rover, Modbus RTU.
    Renogy,
    /// EPEver Tracer, Modbus RTU.
    Epever,
}

/// Arguments of `decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Protocol of the capture.
    #[arg(long, value_enum)]
    pub protocol: Protocol,
    /// The capture: raw bytes as read from the line, or (Modbus) hex text such as
    /// `01 04 02 00 46 38 C2`.
    pub file: PathBuf,
}

/// Runs `decode`.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("reading capture {}", args.file.display()))?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let summary = decode_as(args.protocol, &bytes, &mut out)?;
    if summary["valid"] == 0 {
        let name = protocol_name(args.protocol);
        let hint = match guess(&bytes, args.protocol) {
            Some(p) => format!(
                "; it looks like {} (try --protocol {})",
                protocol_name(p),
                protocol_name(p)
            ),
            None => String::from("; it does not look like any protocol fieldkit reads"),
        };
        anyhow::bail!(
            "nothing valid found in {} as {name} ({} rejected){hint}",
            args.file.display(),
            summary["rejected"]
        );
    }
    if args.protocol != Protocol::Vedirect
        && let Some(other @ (Protocol::Renogy | Protocol::Epever)) = guess(&bytes, args.protocol)
    {
        eprintln!(
            "note: these frames use {}'s function code; --protocol {} gives their meaning",
            protocol_name(other),
            protocol_name(other)
        );
    }
    writeln!(out, "{summary}").context("writing to standard output")?;
    out.flush().context("writing to standard output")?;
    Ok(())
}

fn decode_as(protocol: Protocol, bytes: &[u8], out: &mut impl Write) -> anyhow::Result<Value> {
    match protocol {
        Protocol::Vedirect => decode_vedirect(bytes, out),
        Protocol::Renogy => decode_modbus(ModbusCharger::Renogy, bytes, out),
        Protocol::Epever => decode_modbus(ModbusCharger::Epever, bytes, out),
    }
}

fn protocol_name(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Vedirect => "vedirect",
        Protocol::Renogy => "renogy",
        Protocol::Epever => "epever",
    }
}

/// Which other protocol the capture decodes as, if any: VE.Direct blocks, or Modbus frames
/// whose function code is the one that charger uses (Renogy reads holding registers, EPEver
/// input registers).
fn guess(bytes: &[u8], tried: Protocol) -> Option<Protocol> {
    let mut sink = std::io::sink();
    let valid = |p: Protocol, sink: &mut std::io::Sink| {
        decode_as(p, bytes, sink)
            .ok()
            .and_then(|v| v["valid"].as_u64())
            .unwrap_or(0)
    };
    if tried != Protocol::Vedirect && valid(Protocol::Vedirect, &mut sink) > 0 {
        return Some(Protocol::Vedirect);
    }
    if valid(Protocol::Renogy, &mut sink) == 0 {
        return None;
    }
    // A Modbus capture: tell the two apart by the function code of its frames.
    let frames = modbus_bytes(bytes);
    let mut pos = 0;
    let (mut holding, mut input) = (0usize, 0usize);
    while pos < frames.len() {
        match modbus::scan_frame(&frames[pos..], None) {
            Scan::Frame { frame, len } => {
                let function = match frame {
                    Frame::Request(r) => r.function,
                    Frame::Response(Response::Registers { function, .. }) => function,
                    Frame::Response(Response::Exception { function, .. }) => function & 0x7F,
                };
                if function == ModbusCharger::Renogy.function() {
                    holding += 1;
                } else if function == ModbusCharger::Epever.function() {
                    input += 1;
                }
                pos += len;
            }
            _ => pos += 1,
        }
    }
    let p = if input > holding {
        Protocol::Epever
    } else {
        Protocol::Renogy
    };
    (p != tried).then_some(p)
}

fn block_json(index: usize, block: &Block) -> Value {
    let mut fields = Map::new();
    for f in block.fields() {
        fields.insert(f.label.to_string(), Value::String(f.value.to_string()));
    }
    let mut obj = Map::new();
    obj.insert("type".into(), json!("block"));
    obj.insert("index".into(), json!(index));
    let mut put = |k: &str, v: Option<i32>| {
        if let Some(v) = v {
            obj.insert(k.into(), json!(v));
        }
    };
    put("battery_voltage_mv", block.battery_voltage_mv());
    put("battery_current_ma", block.battery_current_ma());
    put("panel_voltage_mv", block.panel_voltage_mv());
    put("panel_power_w", block.panel_power_w());
    put("power_w", block.power_w());
    put("consumed_mah", block.consumed_mah());
    put("soc_permille", block.soc_permille());
    put("time_to_go_min", block.time_to_go_min());
    put("mppt_mode", block.mppt_mode());
    put("yield_total_10wh", block.yield_total_10wh());
    put("error_code", block.error_code());
    if let Some(pid) = block.product_id() {
        obj.insert("product_id".into(), json!(format!("0x{pid:04X}")));
    }
    if let Some(cs) = block.charge_state() {
        obj.insert("charge_state".into(), json!(cs.code()));
        obj.insert("charge_state_name".into(), json!(cs.name()));
    }
    obj.insert("fields".into(), Value::Object(fields));
    Value::Object(obj)
}

fn decode_vedirect(bytes: &[u8], out: &mut impl Write) -> anyhow::Result<Value> {
    let mut index = 0usize;
    let mut write_err = None;
    let counts = vedirect::decode_capture(bytes, |block| {
        if write_err.is_none()
            && let Err(e) = writeln!(out, "{}", block_json(index, block))
        {
            write_err = Some(e);
        }
        index += 1;
    });
    if let Some(e) = write_err {
        return Err(e).context("writing to standard output");
    }
    Ok(json!({
        "type": "summary",
        "protocol": "vedirect",
        "valid": counts.valid,
        "rejected": counts.rejected,
    }))
}

/// Hex text (`01 04 ...`, whitespace, commas or `0x` prefixes allowed) or raw bytes.
fn modbus_bytes(bytes: &[u8]) -> Vec<u8> {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return bytes.to_vec();
    };
    let cleaned: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .collect();
    let looks_hex = !cleaned.is_empty()
        && cleaned.iter().all(|t| {
            let t = t.trim_start_matches("0x").trim_start_matches("0X");
            !t.is_empty() && t.len() % 2 == 0 && t.bytes().all(|b| b.is_ascii_hexdigit())
        });
    if !looks_hex {
        return bytes.to_vec();
    }
    let mut out = Vec::new();
    for t in cleaned {
        let t = t.trim_start_matches("0x").trim_start_matches("0X");
        for pair in t.as_bytes().chunks(2) {
            if let Ok(s) = std::str::from_utf8(pair)
                && let Ok(b) = u8::from_str_radix(s, 16)
            {
                out.push(b);
            }
        }
    }
    out
}

fn decode_modbus(
    charger: ModbusCharger,
    raw: &[u8],
    out: &mut impl Write,
) -> anyhow::Result<Value> {
    let bytes = modbus_bytes(raw);
    let (mut valid, mut rejected, mut requests) = (0usize, 0usize, 0usize);
    let mut last_request: Option<ReadRequest> = None;
    let mut in_garbage = false;
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        match modbus::scan_frame(rest, last_request.as_ref()) {
            Scan::Frame { frame, len } => {
                in_garbage = false;
                pos += len;
                match frame {
                    Frame::Request(r) => {
                        requests += 1;
                        last_request = Some(r);
                    }
                    Frame::Response(resp) => {
                        valid += 1;
                        let line = response_json(charger, &resp, last_request.take());
                        writeln!(out, "{line}").context("writing to standard output")?;
                    }
                }
            }
            // At the end of the capture "need more" means a truncated frame: skip it too.
            Scan::Skip | Scan::NeedMore => {
                if !in_garbage {
                    rejected += 1;
                    in_garbage = true;
                }
                pos += 1;
            }
        }
    }
    Ok(json!({
        "type": "summary",
        "protocol": match charger { ModbusCharger::Renogy => "renogy", ModbusCharger::Epever => "epever" },
        "valid": valid,
        "rejected": rejected,
        "requests": requests,
    }))
}

fn response_json(charger: ModbusCharger, resp: &Response, request: Option<ReadRequest>) -> Value {
    match resp {
        Response::Exception {
            device,
            function,
            code,
        } => json!({
            "type": "exception",
            "device": device,
            "function": function,
            "exception_code": code.code(),
            "meaning": code.meaning(),
        }),
        Response::Registers {
            device,
            function,
            values,
        } => {
            let mut obj = Map::new();
            obj.insert("type".into(), json!("response"));
            obj.insert("device".into(), json!(device));
            obj.insert("function".into(), json!(function));
            obj.insert("registers".into(), json!(values.as_slice()));
            // The meaning needs the first register, which only the request says.
            if let Some(req) = request.filter(|r| {
                r.device == *device
                    && r.function == *function
                    && usize::from(r.count) == values.len()
            }) {
                obj.insert(
                    "start_register".into(),
                    json!(format!("0x{:04X}", req.start)),
                );
                let mut meanings = Map::new();
                charger.meanings(req.start, values, |m| {
                    meanings.insert(m.name.into(), json!(m.value));
                });
                obj.insert("meaning".into(), Value::Object(meanings));
            }
            Value::Object(obj)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_modbus(charger: ModbusCharger, text: &str) -> (Vec<Value>, Value) {
        let mut out = Vec::new();
        let summary = decode_modbus(charger, text.as_bytes(), &mut out).unwrap();
        let lines = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        (lines, summary)
    }

    #[test]
    fn epever_vectors_decode_to_their_meanings() {
        let (lines, summary) = run_modbus(
            ModbusCharger::Epever,
            "01 04 31 1A 00 01 1E F1\n01 04 02 00 46 38 C2\n\
             01 04 31 04 00 01 7E F7\n01 04 02 05 10 BB AC\n\
             01 03 30 00 00 01 8B 0A\n01 83 02 C0 F1\n",
        );
        assert_eq!(lines[0]["meaning"]["battery_soc_percent"], 70);
        assert_eq!(lines[1]["meaning"]["battery_voltage_mv"], 12960);
        assert_eq!(lines[2]["exception_code"], 2);
        assert_eq!(lines[2]["meaning"], "illegal data address");
        assert_eq!(summary["valid"], 3);
        assert_eq!(summary["rejected"], 0);
        assert_eq!(summary["requests"], 3);
    }

    #[test]
    fn renogy_vector_and_noise() {
        let (lines, summary) = run_modbus(
            ModbusCharger::Renogy,
            "FF 00 01 03 00 0A 00 01 A4 08 01 03 02 18 1E 32 4C 01 03 02 18 1E 32 4D",
        );
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0]["meaning"]["system_voltage_v"], 24);
        assert_eq!(lines[0]["meaning"]["rated_current_a"], 30);
        assert_eq!(summary["valid"], 1);
        assert_eq!(summary["rejected"], 2);
    }
}
