//! Integration tests: the API, trail imports, email and the browser app, each against a real
//! server on a fresh database. Storage tests run on SQLite and PostgreSQL.

mod helpers;

mod access;
mod audit;
mod authorization;
mod accounts;
mod browser;
mod browser_workflow;
mod cases;
mod containment;
mod evidence;
mod report;
mod impact;
mod browser_account;
mod browser_communication;
mod browser_report;
mod communications;
mod imports;
mod invitations;
mod mail;
mod tokens;
mod totp;
mod timeline;
mod trail_fixtures;
mod workflow;
mod workflow_audit;
mod trail_attempts;
mod trail_derived;
mod trail_forms;
mod trail_resources;
mod trail_rules;
