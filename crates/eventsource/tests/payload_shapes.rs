//! Every payload shape that serialises to a JSON object decodes back to
//! the same value: plain structs, newtype structs around them, `Option`s of
//! them, externally tagged enums, and numbers beyond 64 bits.

use eventsource::event::{payload_from_object, payload_to_object};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::Debug;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Inner {
    label: String,
    count: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Labelled(Inner);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
enum Adjusted {
    Up { by: i64 },
    Down { by: i64, reason: Option<String> },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Wide {
    huge: u128,
    negative: i128,
    list: Vec<Inner>,
    absent: Option<Inner>,
}

fn round_trip<P: Serialize + DeserializeOwned + PartialEq + Debug>(payload: P) {
    let object = payload_to_object("Shape", &payload).expect("serialises to an object");
    let back: P = payload_from_object("Shape", &object).expect("decodes");
    assert_eq!(back, payload);
}

#[test]
fn every_object_shaped_payload_decodes_to_what_was_stored() {
    let inner = Inner {
        label: "a".into(),
        count: 3,
    };
    round_trip(inner.clone());
    round_trip(Labelled(inner.clone()));
    round_trip(Some(inner.clone()));
    round_trip(Adjusted::Up { by: -5 });
    round_trip(Adjusted::Down {
        by: 7,
        reason: Some("audit".into()),
    });
    round_trip(Wide {
        huge: u128::MAX,
        negative: i128::MIN,
        list: vec![inner.clone(), inner],
        absent: None,
    });
}

#[test]
fn a_payload_of_another_shape_names_what_did_not_match() {
    let object = payload_to_object("Shape", &Adjusted::Up { by: 1 }).unwrap();
    let error = payload_from_object::<Labelled>("Shape", &object).unwrap_err();
    assert!(error.to_string().contains("Shape"), "{error}");
}
