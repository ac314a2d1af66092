//! The door driver registry: each door is bound to the controller driver
//! that actuates it, by driver id. The simulated controller
//! ([`super::controller`]) is the first driver; ONVIF Profile C and Home
//! Assistant drivers register the same way later.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::domain::{DoorId, DoorStatus, ErrorKind};

use super::controller::{ControllerEvent, DoorController, SimulatedController};

/// The id the simulated driver registers under.
pub const SIMULATED: &str = "simulated";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    #[error("no driver {0:?} is registered")]
    UnknownDriver(String),
    #[error("door {0:?} is bound to no controller driver")]
    Unbound(DoorId),
    #[error("this site has no simulated controller")]
    NoSimulator,
}

impl DriverError {
    /// A door without a reachable driver is unavailable, not broken.
    pub fn kind(&self) -> ErrorKind {
        ErrorKind::Unavailable
    }
}

/// The registered drivers and which door each drives.
#[derive(Default)]
pub struct Drivers {
    /// In registration order.
    drivers: Vec<(String, Arc<dyn DoorController>)>,
    /// Door → index into `drivers`.
    bindings: HashMap<DoorId, usize>,
    simulated: Option<Arc<SimulatedController>>,
}

impl Drivers {
    /// No drivers, no doors bound.
    pub fn new() -> Drivers {
        Drivers::default()
    }

    /// The simulated controller as the only driver, bound to every door it
    /// simulates.
    pub fn simulated(sim: Arc<SimulatedController>) -> Drivers {
        let mut d = Drivers::new();
        d.set_simulated(sim);
        d
    }

    /// Registers the simulated controller under [`SIMULATED`] and binds it
    /// every door it simulates; fault injection reaches it through
    /// [`Drivers::simulator`].
    pub fn set_simulated(&mut self, sim: Arc<SimulatedController>) {
        let doors: Vec<DoorId> = sim.statuses().into_iter().map(|(d, _)| d).collect();
        let ctl: Arc<dyn DoorController> = sim.clone();
        self.register(SIMULATED, ctl);
        for door in doors {
            // Just registered: cannot fail.
            let _ = self.bind(door, SIMULATED);
        }
        self.simulated = Some(sim);
    }

    /// Registers (or replaces) a driver under `id`.
    pub fn register(&mut self, id: &str, driver: Arc<dyn DoorController>) {
        match self.drivers.iter_mut().find(|(d, _)| d == id) {
            Some(slot) => slot.1 = driver,
            None => self.drivers.push((id.to_owned(), driver)),
        }
    }

    /// Binds a door to a registered driver (replacing an earlier binding).
    pub fn bind(&mut self, door: DoorId, driver: &str) -> Result<(), DriverError> {
        let idx = self
            .drivers
            .iter()
            .position(|(d, _)| d == driver)
            .ok_or_else(|| DriverError::UnknownDriver(driver.to_owned()))?;
        self.bindings.insert(door, idx);
        Ok(())
    }

    /// The driver that actuates `door`.
    pub fn for_door(&self, door: &DoorId) -> Result<&Arc<dyn DoorController>, DriverError> {
        self.bindings
            .get(door)
            .and_then(|&i| self.drivers.get(i))
            .map(|(_, d)| d)
            .ok_or_else(|| DriverError::Unbound(door.clone()))
    }

    /// The id of the driver bound to `door`.
    pub fn driver_id(&self, door: &DoorId) -> Option<&str> {
        let &i = self.bindings.get(door)?;
        self.drivers.get(i).map(|(id, _)| id.as_str())
    }

    /// The status of every bound door, as its own driver reports it.
    pub fn statuses(&self) -> Vec<(DoorId, DoorStatus)> {
        self.drivers
            .iter()
            .enumerate()
            .flat_map(|(i, (_, d))| {
                d.statuses()
                    .into_iter()
                    .filter(move |(door, _)| self.bindings.get(door) == Some(&i))
            })
            .collect()
    }

    /// A subscription to every driver's events, by driver id.
    pub fn subscribe(&self) -> Vec<(String, broadcast::Receiver<ControllerEvent>)> {
        self.drivers
            .iter()
            .map(|(id, d)| (id.clone(), d.subscribe()))
            .collect()
    }

    /// Whether `door` is bound to the driver `driver`.
    pub fn drives(&self, driver: &str, door: &DoorId) -> bool {
        self.driver_id(door) == Some(driver)
    }

    /// The simulated controller, for fault injection.
    pub fn simulator(&self) -> Result<&Arc<SimulatedController>, DriverError> {
        self.simulated.as_ref().ok_or(DriverError::NoSimulator)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ControllerConfig;
    use crate::domain::{Door, DoorAction, DoorMode, FailMode};

    fn door(id: &str) -> Door {
        Door {
            id: DoorId::new(id),
            name: id.to_owned(),
            zone: "office".into(),
            map: None,
            fail_mode: FailMode::FailSecure,
            access_time_ms: 5000,
            held_open_threshold_ms: 20_000,
            cameras: vec![],
        }
    }

    fn sim(ids: &[&str]) -> Arc<SimulatedController> {
        let doors: Vec<Door> = ids.iter().map(|i| door(i)).collect();
        SimulatedController::new(
            &doors,
            &ControllerConfig {
                driver: SIMULATED.into(),
                command_latency_ms: 10,
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn each_door_goes_to_its_own_driver() {
        let a = sim(&["d1", "d2"]);
        let b = sim(&["d3"]);
        let mut drivers = Drivers::simulated(Arc::clone(&a));
        let b_dyn: Arc<dyn DoorController> = b.clone();
        drivers.register("other", b_dyn);
        drivers.bind(DoorId::new("d3"), "other").unwrap();
        assert_eq!(drivers.driver_id(&DoorId::new("d1")), Some(SIMULATED));
        assert!(drivers.drives("other", &DoorId::new("d3")));
        let mut ids: Vec<String> = drivers
            .statuses()
            .into_iter()
            .map(|(d, _)| d.to_string())
            .collect();
        ids.sort();
        assert_eq!(ids, ["d1", "d2", "d3"]);

        let status = drivers
            .for_door(&DoorId::new("d3"))
            .unwrap()
            .command(&DoorId::new("d3"), DoorAction::Unlock)
            .await
            .unwrap();
        assert_eq!(status.mode, DoorMode::Unlocked);
        assert_eq!(
            b.status(&DoorId::new("d3")).map(|s| s.mode),
            Some(DoorMode::Unlocked)
        );
        assert_eq!(drivers.subscribe().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn unbound_door_and_unknown_driver_are_unavailable() {
        let mut drivers = Drivers::new();
        let e = drivers.for_door(&DoorId::new("d1")).err().unwrap();
        assert_eq!(e, DriverError::Unbound(DoorId::new("d1")));
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            drivers.bind(DoorId::new("d1"), "onvif"),
            Err(DriverError::UnknownDriver("onvif".into()))
        );
        assert_eq!(
            drivers.simulator().err().map(|e| e.kind()),
            Some(ErrorKind::Unavailable)
        );
        drivers.set_simulated(sim(&["d1"]));
        assert!(drivers.for_door(&DoorId::new("d1")).is_ok());
        assert!(drivers.simulator().is_ok());
    }
}
