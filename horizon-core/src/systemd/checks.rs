//! The pre-update checks of the unattended update: skip it on a battery below a level (unless
//! charging), on a metered connection, when the load is high, or when the user's check script
//! exits non-zero. The checks are configured in a small JSON file (`update.json`), read with the
//! definitions' strict reader, so a mistake is reported at its line and column; the host facts
//! (batteries, load, metering) are read from paths and commands the caller passes, and judged by a
//! pure function.

use std::path::{Path, PathBuf};

use crate::definition::Position;
use crate::definition::parse::{Value, parse_json};

/// The battery level below which an unattended update is skipped when the file does not say.
pub const DEFAULT_MIN_BATTERY_PERCENT: u8 = 20;
/// The keys of `update.json`.
pub const CHECK_FIELDS: &[&str] = &[
    "min_battery_percent",
    "skip_on_metered",
    "max_load",
    "check_script",
];

/// The configured checks. Without a file: the battery at [`DEFAULT_MIN_BATTERY_PERCENT`] and
/// metered connections skip; load and script are not checked.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct UpdateChecks {
    /// Skip below this battery level (percent) unless charging; `None`: never.
    pub min_battery_percent: Option<u8>,
    /// Skip on a metered connection.
    pub skip_on_metered: bool,
    /// Skip when the 1-minute load average is above this; `None`: never.
    pub max_load: Option<f64>,
    /// Skip when this program exits non-zero (it runs without arguments).
    pub check_script: Option<PathBuf>,
}

impl Default for UpdateChecks {
    fn default() -> Self {
        UpdateChecks {
            min_battery_percent: Some(DEFAULT_MIN_BATTERY_PERCENT),
            skip_on_metered: true,
            max_load: None,
            check_script: None,
        }
    }
}

/// `update.json` could not be used: where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}", crate::printable::escape(&self.line()))]
pub struct ConfigError {
    /// The file.
    pub path: PathBuf,
    /// Where in it, when the problem has a place.
    pub position: Option<Position>,
    /// The key, empty for the document.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ConfigError {
    fn line(&self) -> String {
        let mut line = self.path.display().to_string();
        if let Some(position) = self.position {
            line.push_str(&format!(":{}:{}", position.line, position.column));
        }
        if !self.field.is_empty() {
            line.push_str(&format!(": {}", self.field));
        }
        line.push_str(&format!(": {}", self.message));
        line
    }
}

/// Reads the checks from `bytes`, the contents of `path`: one object of [`CHECK_FIELDS`], each
/// optional (`null` turns a check off), nothing else.
pub fn parse_update_checks(path: &Path, bytes: &[u8]) -> Result<UpdateChecks, ConfigError> {
    let error = |position: Option<Position>, field: &str, message: String| ConfigError {
        path: path.to_owned(),
        position,
        field: field.to_owned(),
        message,
    };
    let document =
        parse_json(bytes).map_err(|parse| error(parse.position, "", parse.problem.to_string()))?;
    let Value::Object(members) = &document.value else {
        return Err(error(
            Some(document.position),
            "",
            format!("expected an object, found {}", document.value.kind()),
        ));
    };
    let mut checks = UpdateChecks::default();
    for member in members {
        let key = member.key.as_str();
        let node = &member.value;
        let at = Some(node.position);
        let expected = |what: &str| {
            error(
                at,
                key,
                format!("expected {what}, found {}", node.value.kind()),
            )
        };
        match (key, &node.value) {
            ("min_battery_percent", Value::Null) => checks.min_battery_percent = None,
            ("min_battery_percent", Value::Number(text)) => {
                checks.min_battery_percent = Some(
                    text.parse::<u8>()
                        .ok()
                        .filter(|percent| *percent <= 100)
                        .ok_or_else(|| expected("a whole number from 0 to 100"))?,
                )
            }
            ("min_battery_percent", _) => return Err(expected("a whole number from 0 to 100")),
            ("skip_on_metered", Value::Bool(skip)) => checks.skip_on_metered = *skip,
            ("skip_on_metered", _) => return Err(expected("true or false")),
            ("max_load", Value::Null) => checks.max_load = None,
            ("max_load", Value::Number(text)) => {
                checks.max_load = Some(
                    text.parse::<f64>()
                        .ok()
                        .filter(|load| load.is_finite() && *load > 0.0)
                        .ok_or_else(|| expected("a positive number"))?,
                )
            }
            ("max_load", _) => return Err(expected("a positive number")),
            ("check_script", Value::Null) => checks.check_script = None,
            ("check_script", Value::String(script)) if Path::new(script).is_absolute() => {
                checks.check_script = Some(PathBuf::from(script))
            }
            ("check_script", _) => return Err(expected("an absolute path")),
            _ => {
                return Err(error(
                    Some(member.key_position),
                    key,
                    format!("unknown key; the keys are {}", CHECK_FIELDS.join(", ")),
                ));
            }
        }
    }
    Ok(checks)
}

/// The checks in `path`, or the defaults when there is no such file.
pub fn read_update_checks(path: &Path) -> Result<UpdateChecks, ConfigError> {
    match std::fs::read(path) {
        Ok(bytes) => parse_update_checks(path, &bytes),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(UpdateChecks::default()),
        Err(error) => Err(ConfigError {
            path: path.to_owned(),
            position: None,
            field: String::new(),
            message: format!("cannot read the file: {error}"),
        }),
    }
}

/// One battery of the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Battery {
    /// Its charge, in percent.
    pub percent: u8,
    /// It is charging or full (on mains power).
    pub charging: bool,
}

/// Whether the connection is metered, as NetworkManager says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metered {
    /// Metered (or guessed to be).
    Yes,
    /// Not metered (or guessed not to be).
    No,
    /// Nobody could say (no NetworkManager).
    Unknown,
}

impl Metered {
    /// NetworkManager's `NMMetered` value (1 yes, 2 no, 3 guess-yes, 4 guess-no, 0 unknown).
    pub fn from_network_manager(value: u32) -> Self {
        match value {
            1 | 3 => Metered::Yes,
            2 | 4 => Metered::No,
            _ => Metered::Unknown,
        }
    }
}

/// What the host says, for the checks.
#[derive(Clone, Debug, PartialEq)]
pub struct HostFacts {
    /// Its batteries (none on a desktop).
    pub batteries: Vec<Battery>,
    /// Its connection.
    pub metered: Metered,
    /// The 1-minute load average, when it could be read.
    pub load: Option<f64>,
}

/// The batteries under `power_supply` (`/sys/class/power_supply`): each entry of type `Battery`
/// with a readable `capacity`.
pub fn read_batteries(power_supply: &Path) -> Vec<Battery> {
    let Ok(entries) = std::fs::read_dir(power_supply) else {
        return Vec::new();
    };
    let read = |dir: &Path, file: &str| {
        std::fs::read_to_string(dir.join(file))
            .map(|text| text.trim().to_owned())
            .ok()
    };
    let mut batteries: Vec<Battery> = entries
        .flatten()
        .map(|entry| entry.path())
        .filter(|dir| read(dir, "type").as_deref() == Some("Battery"))
        .filter_map(|dir| {
            let percent = read(&dir, "capacity")?.parse::<u8>().ok()?.min(100);
            let status = read(&dir, "status").unwrap_or_default();
            Some(Battery {
                percent,
                charging: matches!(status.as_str(), "Charging" | "Full" | "Not charging"),
            })
        })
        .collect();
    batteries.sort_by_key(|battery| battery.percent);
    batteries
}

/// The 1-minute load average from `loadavg` (`/proc/loadavg`).
pub fn read_load(loadavg: &Path) -> Option<f64> {
    std::fs::read_to_string(loadavg)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The checks, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    /// The battery level.
    Battery,
    /// The connection's metering.
    Metered,
    /// The load average.
    Load,
    /// The user's check script.
    Script,
}

impl CheckName {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::Battery => "battery",
            CheckName::Metered => "metered",
            CheckName::Load => "load",
            CheckName::Script => "check script",
        }
    }
}

/// What one check found.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CheckVerdict {
    /// Which check.
    pub check: CheckName,
    /// It says to skip the update.
    pub skip: bool,
    /// What it saw, in words.
    pub detail: String,
}

/// The verdicts of the battery, metering and load checks on `facts` (the script is judged by
/// [`script_verdict`]).
pub fn judge(checks: &UpdateChecks, facts: &HostFacts) -> Vec<CheckVerdict> {
    let mut verdicts = Vec::new();
    if let Some(minimum) = checks.min_battery_percent {
        // The emptiest battery decides: it is the one that would run out.
        let verdict = match facts.batteries.first() {
            None => (false, "no battery".to_owned()),
            Some(battery) if battery.charging => {
                (false, format!("battery at {}%, charging", battery.percent))
            }
            Some(battery) if battery.percent < minimum => (
                true,
                format!("battery at {}% is below {minimum}%", battery.percent),
            ),
            Some(battery) => (
                false,
                format!("battery at {}% (at least {minimum}%)", battery.percent),
            ),
        };
        verdicts.push(CheckVerdict {
            check: CheckName::Battery,
            skip: verdict.0,
            detail: verdict.1,
        });
    }
    if checks.skip_on_metered {
        let (skip, detail) = match facts.metered {
            Metered::Yes => (true, "the connection is metered"),
            Metered::No => (false, "the connection is not metered"),
            Metered::Unknown => (false, "no network manager says the connection is metered"),
        };
        verdicts.push(CheckVerdict {
            check: CheckName::Metered,
            skip,
            detail: detail.to_owned(),
        });
    }
    if let Some(maximum) = checks.max_load {
        let (skip, detail) = match facts.load {
            Some(load) if load > maximum => (true, format!("load {load:.2} is above {maximum}")),
            Some(load) => (false, format!("load {load:.2} (at most {maximum})")),
            None => (false, "the load average could not be read".to_owned()),
        };
        verdicts.push(CheckVerdict {
            check: CheckName::Load,
            skip,
            detail,
        });
    }
    verdicts
}

/// The verdict on the check script `script`, which ended with `code` (`None`: killed by a signal)
/// after printing `said` (the end of its stderr, else its stdout).
pub fn script_verdict(script: &Path, code: Option<i32>, said: &str) -> CheckVerdict {
    let said = said.trim();
    let (skip, mut detail) = match code {
        Some(0) => (false, format!("{} exited 0", script.display())),
        Some(code) => (true, format!("{} exited {code}", script.display())),
        None => (true, format!("{} was killed by a signal", script.display())),
    };
    if skip && !said.is_empty() {
        detail.push_str(&format!(": {said}"));
    }
    CheckVerdict {
        check: CheckName::Script,
        skip,
        detail,
    }
}

/// A check script that could not be run says to skip: an update the user wanted gated is not
/// run ungated.
pub fn unrunnable_script_verdict(script: &Path, error: &str) -> CheckVerdict {
    CheckVerdict {
        check: CheckName::Script,
        skip: true,
        detail: format!("{} could not be run: {error}", script.display()),
    }
}

/// The value `busctl get-property` prints for NetworkManager's `Metered` (`u 4`).
pub fn parse_busctl_metered(stdout: &str) -> Metered {
    stdout
        .split_whitespace()
        .nth(1)
        .and_then(|value| value.parse().ok())
        .map(Metered::from_network_manager)
        .unwrap_or(Metered::Unknown)
}
