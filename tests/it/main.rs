//! Integration tests, one module per area.
mod audit;
mod criteria;
mod router;
mod world;
