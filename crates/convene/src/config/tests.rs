//! The settings' defaults, layering and checks.

use super::*;

#[test]
fn defaults_are_zero_configuration() {
    let c = Settings::default().resolve().unwrap();
    assert_eq!(c.listen.port(), 5080);
    assert_eq!(c.database_url, "sqlite://./data/convene.db?mode=rwc");
    assert_eq!(c.node_id, 1);
    assert_eq!(c.node_name(), "node-1");
}

#[test]
fn higher_layers_win() {
    let flags = Settings {
        listen: Some("127.0.0.1:1".into()),
        ..Default::default()
    };
    let env_and_file = Settings {
        listen: Some("127.0.0.1:2".into()),
        node_id: Some(7),
        ..Default::default()
    };
    let c = flags.or(env_and_file).resolve().unwrap();
    assert_eq!(c.listen.port(), 1);
    assert_eq!(c.node_id, 7);
}

#[test]
fn bad_settings_are_named() {
    let err = |s: Settings| s.resolve().unwrap_err().to_string();
    assert!(
        err(Settings {
            listen: Some("nowhere".into()),
            ..Default::default()
        })
        .contains("`listen`")
    );
    assert!(
        err(Settings {
            database_url: Some("mysql://x".into()),
            ..Default::default()
        })
        .contains("`database_url`")
    );
    assert!(
        err(Settings {
            public_url: Some("ftp://x".into()),
            ..Default::default()
        })
        .contains("`public_url`")
    );
    assert!(
        err(Settings {
            ws_timeout: Some(1),
            ..Default::default()
        })
        .contains("`ws_timeout`")
    );
}

#[test]
fn admin_password_log_filter_and_node_name_limits() {
    let resolve = |s: Settings| s.resolve().map_err(|e| e.to_string());
    let pw = |p: &str| Settings {
        admin_password: Some(p.into()),
        ..Default::default()
    };
    assert!(resolve(pw(&"p".repeat(256))).is_ok());
    let err = resolve(pw(&"p".repeat(257))).unwrap_err();
    assert!(
        err.contains("`admin_password`") && err.contains("256"),
        "{err}"
    );
    assert!(
        resolve(pw("short"))
            .unwrap_err()
            .contains("`admin_password`")
    );
    // Eight characters, even when they take more bytes, as for every password.
    assert!(resolve(pw("ééééééé")).is_err());
    assert!(resolve(pw("éééééééé")).is_ok());

    let log = |l: &str| Settings {
        log: Some(l.into()),
        ..Default::default()
    };
    assert!(resolve(log("info,convene=debug")).is_ok());
    let err = resolve(log("convene=loud")).unwrap_err();
    assert!(err.contains("`log`"), "{err}");

    let name = |n: String| Settings {
        node_name: Some(n),
        ..Default::default()
    };
    assert!(resolve(name("é".repeat(100))).is_ok(), "100 characters");
    assert!(
        resolve(name("é".repeat(101)))
            .unwrap_err()
            .contains("`node_name`")
    );
    assert!(resolve(name("  ".into())).is_err());
}

#[test]
fn http_limits_defaults_and_bounds() {
    let c = Settings::default().resolve().unwrap();
    assert_eq!(c.http_header_timeout, Duration::from_secs(10));
    assert_eq!(c.http_body_timeout, Duration::from_secs(30));
    assert_eq!(c.http_idle_timeout, Duration::from_secs(60));
    assert_eq!(c.shutdown_grace, Duration::from_secs(10));
    assert_eq!(c.max_connections, None);
    assert_eq!(c.max_connections_per_address, 500);
    let proxied = Settings {
        trust_forwarded_for: Some(true),
        ..Default::default()
    };
    assert_eq!(proxied.resolve().unwrap().max_connections_per_address, 0);

    let err = |s: Settings| s.resolve().unwrap_err().to_string();
    let cases = [
        (
            Settings {
                http_header_timeout: Some(0),
                ..Default::default()
            },
            "`http_header_timeout`",
        ),
        (
            Settings {
                http_body_timeout: Some(0),
                ..Default::default()
            },
            "`http_body_timeout`",
        ),
        (
            Settings {
                http_idle_timeout: Some(86401),
                ..Default::default()
            },
            "`http_idle_timeout`",
        ),
        (
            Settings {
                max_connections: Some(0),
                ..Default::default()
            },
            "`max_connections`",
        ),
        (
            Settings {
                max_connections_per_address: Some(MAX_CONNECTIONS + 1),
                ..Default::default()
            },
            "`max_connections_per_address`",
        ),
        (
            Settings {
                shutdown_grace: Some(3601),
                ..Default::default()
            },
            "`shutdown_grace`",
        ),
    ];
    for (settings, name) in cases {
        let e = err(settings);
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn log_levels_must_be_real_levels() {
    let resolve = |l: &str| {
        Settings {
            log: Some(l.into()),
            ..Default::default()
        }
        .resolve()
        .map_err(|e| e.to_string())
    };
    for good in [
        "info",
        "WARN",
        "off",
        "info,convene=debug",
        "convene::rooms=trace",
    ] {
        assert!(resolve(good).is_ok(), "{good}");
    }
    for bad in ["loud", "info,loud", "convene", "convene=", "", " ", "3"] {
        let err = resolve(bad).unwrap_err();
        assert!(err.contains("`log`"), "{bad:?}: {err}");
    }
}

#[test]
fn tls_settings_fit_together() {
    let resolve = |s: Settings| s.resolve().map_err(|e| e.to_string());
    let c = resolve(Settings {
        tls: Some("self-signed".into()),
        http_redirect_port: Some(8080),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(c.tls, Some(TlsSource::SelfSigned));
    assert_eq!(c.http_redirect_port, Some(8080));
    let c = resolve(Settings {
        tls_cert: Some("c.pem".into()),
        tls_key: Some("k.pem".into()),
        ..Default::default()
    })
    .unwrap();
    assert!(matches!(c.tls, Some(TlsSource::Files { .. })));
    let cases = [
        (
            Settings {
                tls: Some("yes".into()),
                ..Default::default()
            },
            "`tls`",
        ),
        (
            Settings {
                tls_cert: Some("c.pem".into()),
                ..Default::default()
            },
            "`tls_key`",
        ),
        (
            Settings {
                http_redirect_port: Some(80),
                ..Default::default()
            },
            "`http_redirect_port`",
        ),
        (
            Settings {
                tls: Some("self-signed".into()),
                http_redirect_port: Some(5080),
                ..Default::default()
            },
            "`http_redirect_port`",
        ),
    ];
    for (settings, name) in cases {
        let e = resolve(settings).unwrap_err();
        assert!(e.contains(name), "{e}");
    }
}

#[test]
fn a_cluster_node_needs_a_public_url_to_serve() {
    let pg = Settings {
        database_url: Some("postgres://u@db/convene".into()),
        ..Default::default()
    };
    let c = pg.clone().resolve().unwrap();
    let e = c.check_for_serving().unwrap_err().to_string();
    assert!(e.contains("`public_url`"), "{e}");
    let c = Settings {
        public_url: Some("https://meet2.example.org".into()),
        ..pg
    }
    .resolve()
    .unwrap();
    assert!(c.check_for_serving().is_ok());
    assert!(Config::with_data_dir("d").check_for_serving().is_ok());
}

#[test]
fn file_rejects_unknown_keys() {
    let bad: Result<Settings, _> = toml::from_str("listne = \"1.2.3.4:5\"");
    assert!(bad.unwrap_err().to_string().contains("listne"));
    let good: Settings = toml::from_str("listen = \"1.2.3.4:5\"\nnode_id = 3").unwrap();
    assert_eq!(good.node_id, Some(3));
}

#[test]
fn sqlite_urls_get_create_mode() {
    assert_eq!(
        normalise_database_url("sqlite:x.db").unwrap(),
        "sqlite://x.db?mode=rwc"
    );
    assert_eq!(
        normalise_database_url("sqlite://x.db?mode=ro").unwrap(),
        "sqlite://x.db?mode=ro"
    );
}

#[test]
fn rate_limits_default_and_bounds() {
    let c = Settings::default().resolve().unwrap();
    assert_eq!(c.rate_limits, crate::rooms::RateLimits::default());
    assert_eq!(
        (c.rate_limits.chat.burst, c.rate_limits.chat.per_second),
        (10, 2)
    );
    let c = Settings {
        chat_burst: Some(50),
        frame_per_second: Some(500),
        ..Default::default()
    }
    .resolve()
    .unwrap();
    assert_eq!(c.rate_limits.chat.burst, 50);
    assert_eq!(c.rate_limits.frames.per_second, 500);
    let err = Settings {
        chat_per_second: Some(0),
        ..Default::default()
    }
    .resolve()
    .unwrap_err()
    .to_string();
    assert!(err.contains("`chat_per_second`"), "{err}");
}

#[test]
fn conversion_settings_defaults_and_bounds() {
    let c = Settings::default().resolve().unwrap().conversion;
    assert_eq!(
        (c.timeout, c.max_pages, c.dpi),
        (Duration::from_secs(120), 500, 120)
    );
    let err = |s: Settings| s.resolve().unwrap_err().to_string();
    let timeout = Settings {
        conversion_timeout: Some(0),
        ..Default::default()
    };
    assert!(err(timeout).contains("`conversion_timeout`"));
    let pages = Settings {
        conversion_max_pages: Some(0),
        ..Default::default()
    };
    assert!(err(pages).contains("`conversion_max_pages` must be between 1 and 10000"));
    let dpi = Settings {
        conversion_dpi: Some(1000),
        ..Default::default()
    };
    assert!(err(dpi).contains("`conversion_dpi` must be between 30 and 600, not 1000"));
    let retention = Settings {
        recording_retention_days: Some(40_000),
        ..Default::default()
    };
    assert!(err(retention).contains("`recording_retention_days` must be between 0 and 36500"));
    let memory = Settings {
        conversion_memory_limit: Some(16),
        ..Default::default()
    };
    assert!(
        err(memory).contains("`conversion_memory_limit` must be between 64 and 1048576, not 16")
    );
}

#[test]
fn the_openmeetings_prefix_and_frame_ancestors() {
    let c = Settings::default().resolve().unwrap();
    assert_eq!(c.openmeetings_prefix, "/openmeetings");
    assert!(c.frame_ancestors.is_empty());
    let with = |prefix: &str, frames: &str| {
        Settings {
            openmeetings_prefix: Some(prefix.into()),
            frame_ancestors: Some(frames.into()),
            ..Default::default()
        }
        .resolve()
    };
    let c = with(
        "/lms/om",
        "https://moodle.example.org, 'self' http://lms:8080/",
    )
    .unwrap();
    assert_eq!(c.openmeetings_prefix, "/lms/om");
    assert_eq!(
        c.frame_ancestors,
        ["https://moodle.example.org", "'self'", "http://lms:8080"]
    );
    for bad in [
        "",
        "/",
        "openmeetings",
        "/om/",
        "/api",
        "/room/x",
        "/a b",
        "/../x",
    ] {
        let e = with(bad, "").unwrap_err().to_string();
        assert!(e.contains("`openmeetings_prefix`"), "{bad:?}: {e}");
    }
    for bad in [
        "*",
        "moodle.example.org",
        "https://x.org/path",
        "https://x.org; script-src *",
    ] {
        let e = with("/openmeetings", bad).unwrap_err().to_string();
        assert!(e.contains("`frame_ancestors`"), "{bad:?}: {e}");
    }
}
