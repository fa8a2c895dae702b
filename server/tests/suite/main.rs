//! Integration tests: the API, trail imports, email and the browser app, each against a real
//! server on a fresh database. Storage tests run on SQLite and PostgreSQL.

mod helpers;

mod access;
mod audit;
mod authorization;
mod accounts;
mod browser;
mod cases;
mod imports;
mod invitations;
mod mail;
mod stakeholder_browser;
mod tokens;
mod totp;
mod trail_fixtures;
