//! Integration tests: the API, trail imports, email and the browser app, each against a real
//! server on a fresh database. Storage tests run on SQLite and PostgreSQL.

mod helpers;

mod accounts;
mod browser;
mod browser_communication;
mod cases;
mod communications;
mod imports;
mod mail;
mod trail_fixtures;
