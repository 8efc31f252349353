use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/boomgate/boomgate.toml"))
}

#[test]
fn unknown_field_names_file_line_and_field() {
    let text =
        "[site]\nid = \"north\"\n\n[[cameras]]\nid = \"entry\"\nurl = \"test://\"\nfsp = 5\n";
    let err = parse(text).unwrap_err();
    let msg = err.to_string();
    assert!(msg.starts_with("/etc/boomgate/boomgate.toml:7:"), "{msg}");
    assert!(msg.contains("fsp"), "{msg}");
    assert_eq!(err.line(), Some(7));
}

#[test]
fn wrong_type_names_field() {
    let err = parse("[detector]\nthreads = \"two\"\n").unwrap_err();
    assert_eq!(err.field(), Some("detector.threads"));
    assert_eq!(err.line(), Some(2));
}

#[test]
fn syntax_error_has_line() {
    let err = parse("[site]\nid = \"x\"\nname = \n").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
}

#[test]
fn camera_relay_must_exist() {
    let text = "[[relays]]\nid = \"gate\"\n\n[[cameras]]\nid = \"a\"\nurl = \"test://\"\n\n[[cameras]]\nid = \"b\"\nurl = \"test://\"\nrelay = \"garage\"\n";
    let err = parse(text).unwrap_err();
    assert_eq!(err.field(), Some("cameras[1].relay"));
    assert_eq!(err.line(), Some(11), "{err}");
    assert!(err.to_string().contains("garage"));
}

#[test]
fn pulse_above_maximum_is_rejected() {
    let err =
        parse("[[relays]]\nid = \"gate\"\npulse_ms = 5000\nmax_pulse_ms = 2000\n").unwrap_err();
    assert_eq!(err.field(), Some("relays[0].pulse_ms"));
    assert_eq!(err.line(), Some(3));
}

#[test]
fn gpio_relay_needs_a_line() {
    let err =
        parse("[[relays]]\nid = \"gate\"\ndriver = \"gpio\"\nchip = \"gpiochip0\"\n").unwrap_err();
    assert_eq!(err.field(), Some("relays[0].line"));
}

#[test]
fn example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("boomgate.example.toml");
    let config = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert!(!config.cameras.is_empty());
    assert!(!config.relays.is_empty());
}

#[test]
fn demo_config_is_valid() {
    let demo = Config::demo();
    assert!(demo.validate().is_ok());
    assert_eq!(demo.storage.data_dir, PathBuf::from("./boomgate-data"));
    assert!(!demo.mqtt.enabled);
    assert_eq!(demo.http.listen, "127.0.0.1:8080");
    assert_eq!(demo.relays[0].driver, RelayDriver::Simulated);
}

#[test]
fn missing_file_names_it() {
    let err = Config::load(Path::new("/nonexistent/boomgate.toml")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/boomgate.toml"));
}
