//! Java's JAAS configuration syntax, as Kafka's `sasl.jaas.config` and the login files that
//! `java.security.auth.login.config` names use it:
//!
//! ```text
//! org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="p";
//!
//! KafkaConnect {
//!   org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
//!     file="/etc/connect/credentials.properties";
//! };
//! ```

use std::collections::BTreeMap;

/// One login module line: its class, control flag and options.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginModule {
    pub class: String,
    pub flag: String,
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for LoginModule {
    // Options hold passwords and secrets: only their names are shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl LoginModule {
    /// The class name without its package (`PlainLoginModule`).
    pub fn simple_name(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    pub fn option(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

/// A syntax error, with the position (in characters) where it was found. The text itself is
/// never repeated: it usually holds a password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at character {position}")]
pub struct JaasError {
    pub message: String,
    pub position: usize,
}

struct Lexer<'a> {
    chars: std::iter::Peekable<std::str::CharIndices<'a>>,
    len: usize,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Symbol(char),
}

impl Lexer<'_> {
    fn position(&mut self) -> usize {
        self.chars.peek().map(|(i, _)| *i).unwrap_or(self.len)
    }

    fn skip_space_and_comments(&mut self) {
        loop {
            match self.chars.peek() {
                Some((_, c)) if c.is_whitespace() => {
                    self.chars.next();
                }
                Some((_, '/')) => {
                    let mut ahead = self.chars.clone();
                    ahead.next();
                    match ahead.peek() {
                        Some((_, '/')) => {
                            for (_, c) in self.chars.by_ref() {
                                if c == '\n' {
                                    break;
                                }
                            }
                        }
                        Some((_, '*')) => {
                            self.chars.next();
                            self.chars.next();
                            let mut prev = ' ';
                            for (_, c) in self.chars.by_ref() {
                                if prev == '*' && c == '/' {
                                    break;
                                }
                                prev = c;
                            }
                        }
                        _ => return,
                    }
                }
                _ => return,
            }
        }
    }

    fn next(&mut self) -> Result<Option<(usize, Token)>, JaasError> {
        self.skip_space_and_comments();
        let Some(&(start, c)) = self.chars.peek() else {
            return Ok(None);
        };
        if matches!(c, '{' | '}' | ';' | '=') {
            self.chars.next();
            return Ok(Some((start, Token::Symbol(c))));
        }
        if c == '"' || c == '\'' {
            self.chars.next();
            let mut out = String::new();
            loop {
                match self.chars.next() {
                    Some((_, '\\')) => match self.chars.next() {
                        Some((_, escaped)) => out.push(escaped),
                        None => break,
                    },
                    Some((_, q)) if q == c => return Ok(Some((start, Token::Quoted(out)))),
                    Some((_, other)) => out.push(other),
                    None => break,
                }
            }
            return Err(JaasError {
                message: "unterminated quoted value".into(),
                position: start,
            });
        }
        let mut word = String::new();
        while let Some(&(_, c)) = self.chars.peek() {
            if c.is_whitespace() || matches!(c, '{' | '}' | ';' | '=' | '"' | '\'') {
                break;
            }
            word.push(c);
            self.chars.next();
        }
        Ok(Some((start, Token::Word(word))))
    }
}

fn parse_modules(lexer: &mut Lexer, in_block: bool) -> Result<Vec<LoginModule>, JaasError> {
    let mut modules = Vec::new();
    loop {
        let position = lexer.position();
        let class = match lexer.next()? {
            None if !in_block => return Ok(modules),
            Some((_, Token::Symbol('}'))) if in_block => return Ok(modules),
            Some((_, Token::Word(w))) => w,
            _ => {
                return Err(JaasError {
                    message: "expected a login module class name".into(),
                    position,
                })
            }
        };
        let position = lexer.position();
        let flag = match lexer.next()? {
            Some((_, Token::Word(w)))
                if matches!(
                    w.to_ascii_lowercase().as_str(),
                    "required" | "requisite" | "sufficient" | "optional"
                ) =>
            {
                w.to_ascii_lowercase()
            }
            _ => {
                return Err(JaasError {
                    message: format!(
                        "expected a control flag (required, requisite, sufficient or optional) after {class}"
                    ),
                    position,
                })
            }
        };
        let mut options = BTreeMap::new();
        loop {
            let position = lexer.position();
            match lexer.next()? {
                Some((_, Token::Symbol(';'))) => break,
                Some((_, Token::Word(name))) => {
                    let eq = lexer.position();
                    if lexer.next()? != Some((eq, Token::Symbol('='))) {
                        return Err(JaasError {
                            message: format!("expected '=' after option {name}"),
                            position: eq,
                        });
                    }
                    let value_at = lexer.position();
                    let value = match lexer.next()? {
                        Some((_, Token::Quoted(v))) | Some((_, Token::Word(v))) => v,
                        _ => {
                            return Err(JaasError {
                                message: format!("expected a value for option {name}"),
                                position: value_at,
                            })
                        }
                    };
                    options.insert(name, value);
                }
                _ => {
                    return Err(JaasError {
                        message: format!("expected an option or ';' to end the {class} entry"),
                        position,
                    })
                }
            }
        }
        modules.push(LoginModule {
            class,
            flag,
            options,
        });
    }
}

/// Parses a `sasl.jaas.config` value: one or more login module entries, each ending in `;`.
pub fn parse_jaas_entries(text: &str) -> Result<Vec<LoginModule>, JaasError> {
    let mut lexer = Lexer {
        chars: text.char_indices().peekable(),
        len: text.len(),
    };
    let modules = parse_modules(&mut lexer, false)?;
    if modules.is_empty() {
        return Err(JaasError {
            message: "no login module".into(),
            position: 0,
        });
    }
    Ok(modules)
}

/// Parses a JAAS login file: named sections (`KafkaConnect { ... };`) of login modules.
pub fn parse_jaas_file(text: &str) -> Result<BTreeMap<String, Vec<LoginModule>>, JaasError> {
    let mut lexer = Lexer {
        chars: text.char_indices().peekable(),
        len: text.len(),
    };
    let mut sections = BTreeMap::new();
    loop {
        let position = lexer.position();
        let name = match lexer.next()? {
            None => return Ok(sections),
            Some((_, Token::Word(w))) => w,
            _ => {
                return Err(JaasError {
                    message: "expected a section name".into(),
                    position,
                })
            }
        };
        let position = lexer.position();
        if !matches!(lexer.next()?, Some((_, Token::Symbol('{')))) {
            return Err(JaasError {
                message: format!("expected '{{' after section name {name}"),
                position,
            });
        }
        let modules = parse_modules(&mut lexer, true)?;
        // The ';' after a section's closing brace is optional in practice.
        let mut ahead = Lexer {
            chars: lexer.chars.clone(),
            len: lexer.len,
        };
        if let Some((_, Token::Symbol(';'))) = ahead.next()? {
            lexer.next()?;
        }
        sections.insert(name, modules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kafka_client_entries() {
        let m = parse_jaas_entries(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="a;b\"c";"#,
        )
        .unwrap();
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].simple_name(), "PlainLoginModule");
        assert_eq!(m[0].flag, "required");
        assert_eq!(m[0].option("username"), Some("alice"));
        assert_eq!(m[0].option("password"), Some("a;b\"c"));

        let m = parse_jaas_entries(
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required\n  clientId='id'\n  clientSecret=s3cret scope=\"kafka\" ;",
        )
        .unwrap();
        assert_eq!(m[0].option("clientId"), Some("id"));
        assert_eq!(m[0].option("clientSecret"), Some("s3cret"));
        assert_eq!(m[0].option("scope"), Some("kafka"));
    }

    #[test]
    fn errors_say_where_and_never_echo_values() {
        let e = parse_jaas_entries(r#"PlainLoginModule required password="secret"#).unwrap_err();
        assert!(e.message.contains("unterminated"), "{e}");
        assert!(!e.to_string().contains("secret"));
        let e = parse_jaas_entries("PlainLoginModule username=\"x\";").unwrap_err();
        assert!(e.message.contains("control flag"), "{e}");
        let e = parse_jaas_entries("PlainLoginModule required username=\"x\"").unwrap_err();
        assert!(
            e.message.contains("to end the PlainLoginModule entry"),
            "{e}"
        );
        assert!(parse_jaas_entries("  ").is_err());
    }

    #[test]
    fn parses_login_files_with_sections_and_comments() {
        let sections = parse_jaas_file(
            "// Connect's REST users\nKafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n    file=\"/etc/creds.properties\";\n};\n/* other */ KafkaClient { a.B optional; }",
        )
        .unwrap();
        let connect = &sections["KafkaConnect"];
        assert_eq!(connect[0].simple_name(), "PropertyFileLoginModule");
        assert_eq!(connect[0].option("file"), Some("/etc/creds.properties"));
        assert_eq!(sections["KafkaClient"][0].flag, "optional");
    }
}
