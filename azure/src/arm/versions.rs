//! api-versions, one per provider (the azure_mgmt 0.21 packages' where their models build bodies).

pub const RESOURCES: &str = "2021-04-01";
pub const STORAGE: &str = "2023-05-01";
pub const AUTHORIZATION: &str = "2022-04-01";
pub const WEB: &str = "2024-04-01";
pub const INSIGHTS: &str = "2020-02-02";
pub const OPERATIONAL_INSIGHTS: &str = "2025-02-01";
pub const EVENT_GRID: &str = "2025-02-15";
