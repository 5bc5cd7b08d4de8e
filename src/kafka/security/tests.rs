use openssl::pkcs12::Pkcs12;
use openssl::symm::Cipher;

use super::*;
use crate::config::test_support::map;
use crate::tls::test_certs::self_signed;

fn parse(pairs: &[(&str, &str)]) -> Result<KafkaSecurity> {
    KafkaSecurity::from_config(&map(pairs))
}

fn err(pairs: &[(&str, &str)]) -> String {
    parse(pairs).unwrap_err().to_string()
}

const PLAIN_JAAS: &str = r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="key" password="secret";"#;

#[test]
fn plaintext_by_default_and_protocols_are_checked() {
    let s = parse(&[]).unwrap();
    assert_eq!(s.protocol, SecurityProtocol::Plaintext);
    assert!(s.tls.is_none() && s.sasl.is_none());
    let e = err(&[("security.protocol", "TLS")]);
    assert!(e.starts_with("security.protocol:"), "{e}");
}

#[test]
fn sasl_plain_from_jaas_reaches_librdkafka() {
    let s = parse(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ])
    .unwrap();
    let mut cfg = ClientConfig::new();
    s.apply_to(&mut cfg);
    assert_eq!(cfg.get("security.protocol"), Some("SASL_PLAINTEXT"));
    assert_eq!(cfg.get("sasl.mechanisms"), Some("PLAIN"));
    assert_eq!(cfg.get("sasl.username"), Some("key"));
    assert_eq!(cfg.get("sasl.password"), Some("secret"));
    assert!(!format!("{s:?}").contains("secret"), "{s:?}");
}

#[test]
fn mechanisms_and_login_modules_must_agree() {
    let e = err(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ]);
    assert!(
        e.contains("sasl.jaas.config") && e.contains("ScramLoginModule"),
        "{e}"
    );
    let e = err(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.jaas.config", PLAIN_JAAS),
    ]);
    assert!(
        e.contains("GSSAPI") && e.contains("set sasl.mechanism"),
        "{e}"
    );
    let e = err(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
    ]);
    assert!(e.contains("sasl.jaas.config: is required"), "{e}");
    let e = err(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\";",
        ),
    ]);
    assert!(e.contains("needs the option password"), "{e}");
    let e = err(&[
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "PLAIN"),
        (
            "sasl.jaas.config",
            "PlainLoginModule required password=\"oops",
        ),
    ]);
    assert!(e.contains("cannot be parsed") && !e.contains("oops"), "{e}");
}

#[test]
fn kerberos_and_unhonourable_tls_settings_are_refused() {
    let e = err(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "GSSAPI"),
        ("sasl.kerberos.service.name", "kafka"),
    ]);
    assert!(
        e.contains("sasl.kerberos.service.name") && e.contains("not supported"),
        "{e}"
    );
    let e = err(&[
        ("security.protocol", "SSL"),
        ("ssl.cipher.suites", "TLS_AES_128_GCM_SHA256"),
    ]);
    assert!(e.starts_with("ssl.cipher.suites:"), "{e}");
    let e = err(&[
        ("security.protocol", "SSL"),
        ("ssl.enabled.protocols", "TLSv1.1"),
    ]);
    assert!(e.starts_with("ssl.enabled.protocols:"), "{e}");
}

#[test]
fn scram_and_oauth_logins() {
    let s = parse(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"alice\" password=\"pw\";",
        ),
    ])
    .unwrap();
    assert_eq!(s.sasl.as_ref().unwrap().mechanism(), "SCRAM-SHA-512");
    assert!(s.tls.as_ref().unwrap().verify_hostname);

    let s = parse(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.token.endpoint.url", "https://idp.example/token"),
        (
            "sasl.login.callback.handler.class",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler",
        ),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required clientId=\"app\" clientSecret=\"s3\" scope=\"kafka\";",
        ),
    ])
    .unwrap();
    let mut cfg = ClientConfig::new();
    s.apply_to(&mut cfg);
    assert_eq!(cfg.get("sasl.mechanisms"), Some("OAUTHBEARER"));
    let key = cfg.get("sasl.oauthbearer.config").unwrap();
    assert!(
        key.starts_with("conveyor-oidc:") && !key.contains("s3"),
        "{key}"
    );

    let e = err(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanism", "OAUTHBEARER"),
        (
            "sasl.jaas.config",
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required;",
        ),
    ]);
    assert!(e.starts_with("sasl.oauthbearer.token.endpoint.url:"), "{e}");
}

#[test]
fn stores_in_every_form_become_pem_for_librdkafka() {
    let dir = tempfile::tempdir().unwrap();
    let (key, cert) = self_signed("client");
    let cert_pem = String::from_utf8(cert.to_pem().unwrap()).unwrap();
    let p12 = Pkcs12::builder()
        .name("client")
        .pkey(&key)
        .cert(&cert)
        .build2("storepw")
        .unwrap()
        .to_der()
        .unwrap();
    let p12_path = dir.path().join("client.p12");
    std::fs::write(&p12_path, &p12).unwrap();
    let ca_path = dir.path().join("ca.pem");
    std::fs::write(&ca_path, &cert_pem).unwrap();
    let p12 = p12_path.to_str().unwrap();

    // PKCS12 keystore (under Java's default type name JKS, which Java also reads it as) and a
    // PEM truststore file.
    let s = parse(&[
        ("security.protocol", "SSL"),
        ("ssl.keystore.location", p12),
        ("ssl.keystore.password", "storepw"),
        ("ssl.truststore.type", "PEM"),
        ("ssl.truststore.location", ca_path.to_str().unwrap()),
        ("ssl.endpoint.identification.algorithm", ""),
    ])
    .unwrap();
    let mut cfg = ClientConfig::new();
    s.apply_to(&mut cfg);
    assert_eq!(cfg.get("ssl.ca.pem"), Some(cert_pem.as_str()));
    assert_eq!(cfg.get("ssl.certificate.pem"), Some(cert_pem.as_str()));
    assert!(cfg
        .get("ssl.key.pem")
        .unwrap()
        .contains("BEGIN PRIVATE KEY"));
    assert_eq!(
        cfg.get("ssl.endpoint.identification.algorithm"),
        Some("none")
    );

    let e = err(&[
        ("security.protocol", "SSL"),
        ("ssl.keystore.type", "PKCS12"),
        ("ssl.keystore.location", p12),
        ("ssl.keystore.password", "wrong"),
    ]);
    assert!(
        e.starts_with("ssl.keystore.password:") && e.contains("incorrect"),
        "{e}"
    );
    let e = err(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.location", "/nonexistent/trust.jks"),
    ]);
    assert!(
        e.starts_with("ssl.truststore.location: cannot read /nonexistent/trust.jks"),
        "{e}"
    );
    let e = err(&[
        ("security.protocol", "SSL"),
        ("ssl.truststore.type", "BKS"),
        ("ssl.truststore.location", p12),
    ]);
    assert!(
        e.starts_with("ssl.truststore.type:") && e.contains("BKS"),
        "{e}"
    );

    // Inline PEM, with an encrypted key that ssl.key.password unlocks.
    let encrypted = String::from_utf8(
        key.private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"keypw")
            .unwrap(),
    )
    .unwrap();
    let inline = |password: &str| {
        parse(&[
            ("security.protocol", "SSL"),
            ("ssl.keystore.type", "PEM"),
            ("ssl.keystore.certificate.chain", &cert_pem),
            ("ssl.keystore.key", &encrypted),
            ("ssl.key.password", password),
            ("ssl.truststore.type", "PEM"),
            ("ssl.truststore.certificates", &cert_pem),
        ])
    };
    let s = inline("keypw").unwrap();
    assert!(s.tls.unwrap().identity.is_some());
    let e = inline("nope").unwrap_err().to_string();
    assert!(
        e.starts_with("ssl.key.password:") && e.contains("incorrect"),
        "{e}"
    );
}
