//! Synthetic CloudTrail trail, one event per line, shaped like the management and S3 data events
//! of a busy account. It has IAM users with long-term keys, role sessions with temporary keys,
//! AssumeRole responses that carry a session token, failed calls, and the leaked key's calls.
//! The leaked key is used by its owner before the compromise time and by the attacker after it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};

use crate::LEAKED_KEY;

const ACCOUNT: &str = "123456789012";
const USERS: usize = 40;
const ROLES: [&str; 6] = ["ci-deploy", "lambda-orders", "ecs-web", "batch-etl", "admin-sso", "readonly-audit"];
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "eu-central-1", "ap-southeast-1"];
const AGENTS: [&str; 4] = [
    "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0-18-cloud-amd64 exe/x86_64.debian.12 prompt/off command/ec2.describe-instances",
    "aws-sdk-go-v2/1.25.2 os/linux lang/go#1.22.1 md/GOOS#linux md/GOARCH#amd64 api/s3#1.51.3",
    "Boto3/1.34.60 md/Botocore#1.34.60 ua/2.0 os/linux#5.10.209-198.858.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2",
    "[S3Console/0.4, aws-internal/3 aws-sdk-java/1.12.660 Linux/5.10.210-178.855.amzn2int.x86_64]",
];

/// Estimate of the average length of a generated line, used to spread the events evenly over
/// the trail's time span. Generated lines average about 1,200 bytes.
const AVERAGE_EVENT_BYTES: u64 = 1_150;

/// One in this many events is a call of the leaked key.
const LEAKED_EVERY: u64 = 500;

pub struct Stats {
    pub events: u64,
    pub bytes: u64,
    /// Midpoint of the trail's time span, so half of the events come after it.
    pub compromise_time: String,
    /// Events of the leaked key at or after the compromise time.
    pub leaked_since: u64,
    /// A time after the last event: as a compromise time, it makes an import keep nothing.
    pub after_end: String,
}

/// SplitMix64: a small deterministic generator, so that every run writes the same trail.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }

    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            b >> 52,
            b & 0xffff_ffff_ffff
        )
    }

    /// Returns an id such as an access key id: `prefix` and upper-case letters and digits.
    fn key_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut id = prefix.to_owned();
        while id.len() < 20 {
            id.push(ALPHABET[self.below(32) as usize] as char);
        }
        id
    }

    fn token(&mut self, length: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        (0..length).map(|_| ALPHABET[self.below(64) as usize] as char).collect()
    }
}

struct Caller {
    identity: String,
    source_ip: String,
}

fn user_caller(name: &str, key: &str, source_ip: String) -> Caller {
    let identity = format!(
        r#"{{"type":"IAMUser","principalId":"AIDA{name:0>16}","arn":"arn:aws:iam::{ACCOUNT}:user/{name}","accountId":"{ACCOUNT}","accessKeyId":"{key}","userName":"{name}"}}"#
    );
    Caller { identity, source_ip }
}

fn role_caller(random: &mut Random, role: &str, time: &str) -> Caller {
    let key = random.key_id("ASIA");
    let session = format!("session-{}", random.below(10_000));
    let identity = format!(
        r#"{{"type":"AssumedRole","principalId":"AROA{role:0>16}:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}","accountId":"{ACCOUNT}","accessKeyId":"{key}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROA{role:0>16}","arn":"arn:aws:iam::{ACCOUNT}:role/{role}","accountId":"{ACCOUNT}","userName":"{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"{time}","mfaAuthenticated":"false"}}}}}}"#
    );
    Caller {
        identity,
        source_ip: format!("10.{}.{}.{}", random.below(256), random.below(256), random.below(256)),
    }
}

/// Event name, source, request parameters and response elements of one call.
struct Call {
    name: &'static str,
    source: &'static str,
    request: String,
    response: String,
    read_only: bool,
}

fn routine_call(random: &mut Random, region: &str) -> Call {
    let bucket = format!("orders-data-{}", random.below(8));
    let object = format!("exports/2024/03/{}/part-{:05}.parquet", random.below(28) + 1, random.below(100_000));
    match random.below(100) {
        0..=29 => Call {
            name: "GetObject",
            source: "s3.amazonaws.com",
            request: format!(r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.{region}.amazonaws.com","key":"{object}"}}"#),
            response: "null".to_owned(),
            read_only: true,
        },
        30..=44 => Call {
            name: "PutObject",
            source: "s3.amazonaws.com",
            request: format!(r#"{{"bucketName":"{bucket}","Host":"{bucket}.s3.{region}.amazonaws.com","key":"{object}","x-amz-server-side-encryption":"aws:kms"}}"#),
            response: format!(r#"{{"x-amz-server-side-encryption":"aws:kms","x-amz-version-id":"{}"}}"#, random.token(32)),
            read_only: false,
        },
        45..=59 => Call {
            name: "DescribeInstances",
            source: "ec2.amazonaws.com",
            request: r#"{"instancesSet":{},"filterSet":{"items":[{"name":"tag:team","valueSet":{"items":[{"value":"orders"}]}}]}}"#.to_owned(),
            response: "null".to_owned(),
            read_only: true,
        },
        60..=71 => Call {
            name: "Decrypt",
            source: "kms.amazonaws.com",
            request: format!(r#"{{"encryptionAlgorithm":"SYMMETRIC_DEFAULT","encryptionContext":{{"aws:s3:arn":"arn:aws:s3:::{bucket}/{object}"}}}}"#),
            response: "null".to_owned(),
            read_only: true,
        },
        72..=79 => {
            let role = random.pick(&ROLES);
            let session = format!("session-{}", random.below(10_000));
            let key = random.key_id("ASIA");
            let token = random.token(420);
            let expiration = "Mar 1, 2024, 1:00:00 PM";
            Call {
                name: "AssumeRole",
                source: "sts.amazonaws.com",
                request: format!(r#"{{"roleArn":"arn:aws:iam::{ACCOUNT}:role/{role}","roleSessionName":"{session}","durationSeconds":3600}}"#),
                response: format!(r#"{{"credentials":{{"accessKeyId":"{key}","sessionToken":"{token}","expiration":"{expiration}"}},"assumedRoleUser":{{"assumedRoleId":"AROA{role:0>16}:{session}","arn":"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/{session}"}}}}"#),
                read_only: true,
            }
        }
        80..=89 => Call {
            name: "PutLogEvents",
            source: "logs.amazonaws.com",
            request: format!(r#"{{"logGroupName":"/ecs/orders-web","logStreamName":"web/{}"}}"#, random.token(24)),
            response: "null".to_owned(),
            read_only: false,
        },
        90..=95 => Call {
            name: "GetCallerIdentity",
            source: "sts.amazonaws.com",
            request: "null".to_owned(),
            response: "null".to_owned(),
            read_only: true,
        },
        _ => list_buckets(),
    }
}

fn list_buckets() -> Call {
    Call {
        name: "ListBuckets",
        source: "s3.amazonaws.com",
        request: r#"{"Host":"s3.amazonaws.com"}"#.to_owned(),
        response: "null".to_owned(),
        read_only: true,
    }
}

/// Builds a call of the attacker: reconnaissance, persistence or resource creation.
fn attacker_call(random: &mut Random) -> Call {
    let user = format!("support-{}", random.below(1_000));
    match random.below(6) {
        0 => Call {
            name: "CreateUser",
            source: "iam.amazonaws.com",
            request: format!(r#"{{"userName":"{user}"}}"#),
            response: format!(r#"{{"user":{{"userName":"{user}","arn":"arn:aws:iam::{ACCOUNT}:user/{user}","createDate":"Mar 1, 2024, 1:00:00 PM"}}}}"#),
            read_only: false,
        },
        1 => Call {
            name: "CreateAccessKey",
            source: "iam.amazonaws.com",
            request: format!(r#"{{"userName":"{user}"}}"#),
            response: format!(r#"{{"accessKey":{{"userName":"{user}","accessKeyId":"{}","status":"Active","createDate":"Mar 1, 2024, 1:00:00 PM"}}}}"#, random.key_id("AKIA")),
            read_only: false,
        },
        2 => Call {
            name: "AttachUserPolicy",
            source: "iam.amazonaws.com",
            request: format!(r#"{{"userName":"{user}","policyArn":"arn:aws:iam::aws:policy/AdministratorAccess"}}"#),
            response: "null".to_owned(),
            read_only: false,
        },
        3 => Call {
            name: "RunInstances",
            source: "ec2.amazonaws.com",
            request: r#"{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":8,"maxCount":8}]},"instanceType":"p3.16xlarge"}"#.to_owned(),
            response: "null".to_owned(),
            read_only: false,
        },
        _ => list_buckets(),
    }
}

/// Writes about `target_bytes` of events to `path` and returns what it wrote.
pub fn generate(path: &Path, target_bytes: u64) -> anyhow::Result<Stats> {
    let mut output = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut random = Random(0x5eed);
    let start = Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).single().expect("valid start time");
    let span = Duration::days(1);
    let expected_events = (target_bytes / AVERAGE_EVENT_BYTES).max(1);
    let step_micros = (span.num_microseconds().unwrap_or(0) / expected_events as i64).max(1);
    let compromise = start + span / 2;
    let compromise_text = compromise.to_rfc3339_opts(SecondsFormat::Secs, true);

    let users: Vec<(String, String)> = (0..USERS)
        .map(|index| (format!("user-{index:02}"), random.key_id("AKIA")))
        .collect();
    let mut stats = Stats {
        events: 0,
        bytes: 0,
        compromise_time: compromise_text,
        leaked_since: 0,
        after_end: (start + span * 2).to_rfc3339_opts(SecondsFormat::Secs, true),
    };
    let mut line = String::with_capacity(4096);
    while stats.bytes < target_bytes {
        let time: DateTime<Utc> = start + Duration::microseconds(step_micros * stats.events as i64);
        let time_text = time.to_rfc3339_opts(SecondsFormat::Secs, true);
        let region = random.pick(&REGIONS);
        let leaked = random.below(LEAKED_EVERY) == 0;
        let (caller, call) = if leaked {
            let attacker = time >= compromise;
            let source_ip = if attacker { "203.0.113.66".to_owned() } else { "198.51.100.20".to_owned() };
            let call = if attacker { attacker_call(&mut random) } else { routine_call(&mut random, region) };
            if attacker {
                stats.leaked_since += 1;
            }
            (user_caller("deploy-bot", LEAKED_KEY, source_ip), call)
        } else if random.below(3) == 0 {
            let role = random.pick(&ROLES);
            (role_caller(&mut random, role, &time_text), routine_call(&mut random, region))
        } else {
            let (name, key) = &users[random.below(USERS as u64) as usize];
            let source_ip = format!("198.51.100.{}", random.below(200) + 1);
            (user_caller(name, key, source_ip), routine_call(&mut random, region))
        };
        write_event(&mut line, &mut random, &caller, &call, &time_text, region);
        output.write_all(line.as_bytes())?;
        stats.bytes += line.len() as u64;
        stats.events += 1;
    }
    // Wait until the file is on disk, so that writing it back does not slow the tools measured
    // next, which read it from the page cache.
    output.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(stats)
}

fn write_event(line: &mut String, random: &mut Random, caller: &Caller, call: &Call, time: &str, region: &str) {
    use std::fmt::Write as _;
    line.clear();
    let agent = random.pick(&AGENTS);
    let error = if random.below(50) == 0 {
        r#""errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation","#
    } else {
        ""
    };
    let host = format!("{}.{region}.amazonaws.com", call.source.trim_end_matches(".amazonaws.com"));
    let _ = write!(
        line,
        r#"{{"eventVersion":"1.09","userIdentity":{identity},"eventTime":"{time}","eventSource":"{source}","eventName":"{name}","awsRegion":"{region}","sourceIPAddress":"{ip}","userAgent":"{agent}",{error}"requestParameters":{request},"responseElements":{response},"requestID":"{request_id}","eventID":"{event_id}","readOnly":{read_only},"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"{ACCOUNT}","eventCategory":"Management","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{host}"}}}}"#,
        identity = caller.identity,
        source = call.source,
        name = call.name,
        ip = caller.source_ip,
        request = call.request,
        response = call.response,
        request_id = random.uuid(),
        event_id = random.uuid(),
        read_only = call.read_only,
    );
    line.push('\n');
}
