//! The rules for an account's login and display name, shared by the API and the command
//! line. Errors are sentences for a person, naming the field.

/// A login is 1–64 characters of letters, digits and `._@-`.
pub fn check_login(login: &str) -> Result<(), String> {
    let ok = !login.is_empty()
        && login.len() <= 64
        && login
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | '-'));
    if ok {
        Ok(())
    } else {
        Err("login must be 1 to 64 characters: letters, digits, '.', '_', '@' or '-'".into())
    }
}

/// A display name is at most 100 characters, without control characters (it is
/// stored trimmed).
pub fn check_display_name(name: &str) -> Result<(), String> {
    if name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(
            "display_name must be at most 100 characters, without control characters".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_display_names() {
        assert!(check_login("alice.b@x-y_z").is_ok());
        assert!(check_login("").is_err());
        assert!(check_login("a b").is_err());
        assert!(check_login(&"a".repeat(65)).is_err());
        assert!(check_display_name("Alice Ä.").is_ok());
        assert!(check_display_name("").is_ok());
        assert!(check_display_name("line\nbreak").is_err());
        assert!(check_display_name(&"é".repeat(101)).is_err());
        assert!(check_display_name(&"é".repeat(100)).is_ok());
    }
}
