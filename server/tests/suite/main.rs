//! Integration tests: the API, trail imports, email and the browser app, each against a real
//! server on a fresh database. Storage tests run on SQLite and PostgreSQL.

mod helpers;

mod accounts;
mod browser;
mod cases;
mod imports;
mod mail;
mod trail_fixtures;
mod trail_attempts;
mod trail_derived;
mod trail_forms;
mod trail_resources;
mod trail_rules;
