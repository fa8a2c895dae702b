-- Two-factor authentication with time-based one-time passwords. totp_secret is the base32
-- secret once enabled; totp_pending_secret holds a new secret until its first code is
-- confirmed; totp_last_step is the time step of the last accepted code, so no code is used twice.

ALTER TABLE users ADD COLUMN totp_secret TEXT;
ALTER TABLE users ADD COLUMN totp_pending_secret TEXT;
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
