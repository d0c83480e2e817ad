use super::*;

#[test]
fn events_round_trip_with_their_tag() {
    let ev = Event::Action {
        agent: "engineer".into(),
        run_id: "r1".into(),
        kind: "write".into(),
        target: "../x".into(),
        decision: Decision::Rejected,
        reason: "path outside the project".into(),
    };
    let json = serde_json::to_string(&ev).unwrap();
    assert!(json.contains("\"event\":\"action\""), "{json}");
    assert!(json.contains("\"decision\":\"rejected\""), "{json}");
    let back: Event = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ev);
    assert_eq!(back.name(), "action");
}
