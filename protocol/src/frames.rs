//! Frames built once and shared: an `event` frame is serialized once per publication
//! (Redis fills in its epoch and offset when it appends it to the topic), stored in the
//! topic's history as text, and sent as is to every subscriber on every node; a
//! `subscribed` reply embeds such stored frames without parsing them again.

use crate::event::Event;
use crate::ids::RequestId;
use serde::Serialize;
use serde_json::value::RawValue;

/// An `event` frame without its epoch and offset:
/// `head + "\"" + epoch + "\",\"offset\":" + offset + tail` is the whole frame, the same
/// text `ServerMessage::Event` serializes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventFrameParts {
    pub kind: &'static str,
    pub head: String,
    pub tail: String,
}

/// Splits the `event` frame of `event` on `topic` around the epoch and offset.
pub fn event_frame_parts(topic: &str, event: &Event) -> Result<EventFrameParts, serde_json::Error> {
    let topic = serde_json::to_string(topic)?;
    let event_json = serde_json::to_string(event)?;
    Ok(EventFrameParts {
        kind: event.kind(),
        head: format!(r#"{{"type":"event","topic":{topic},"epoch":"#),
        tail: format!(r#","event":{event_json}}}"#),
    })
}

impl EventFrameParts {
    /// The whole frame, as Redis assembles it. `epoch` is one of ours: hex, no escaping.
    pub fn assemble(&self, epoch: &str, offset: u64) -> String {
        format!(r#"{}"{epoch}","offset":{offset}{}"#, self.head, self.tail)
    }
}

#[derive(Serialize)]
struct Subscribed<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    re: &'a RequestId,
    topic: &'a str,
    epoch: &'a str,
    offset: u64,
    recovered: bool,
    publications: Vec<&'a RawValue>,
}

/// The `subscribed` reply around stored `event` frames (each a JSON object; a clients
/// can hand each publication to the same code as a live `event`).
pub fn subscribed_frame(
    re: &RequestId,
    topic: &str,
    epoch: &str,
    offset: u64,
    recovered: bool,
    publications: &[&str],
) -> Result<String, serde_json::Error> {
    let publications = publications
        .iter()
        .map(|p| serde_json::from_str::<&RawValue>(p))
        .collect::<Result<Vec<_>, _>>()?;
    serde_json::to_string(&Subscribed {
        kind: "subscribed",
        re,
        topic,
        epoch,
        offset,
        recovered,
        publications,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerMessage;
    use crate::event::DraftDelta;
    use crate::server::EventMessage;

    fn delta() -> Event {
        Event::DraftDelta(DraftDelta {
            job_id: "0190f1f4-8c1e-7000-8000-000000000001".parse().unwrap(),
            seq: 3,
            text: "a \"quoted\"\nline".into(),
        })
    }

    #[test]
    fn assembled_frame_is_the_serialized_event_message() {
        let parts = event_frame_parts("project:p1", &delta()).unwrap();
        assert_eq!(parts.kind, "draft.delta");
        let frame = parts.assemble("ab12", 42);
        let typed = ServerMessage::Event(EventMessage {
            topic: "project:p1".into(),
            epoch: "ab12".into(),
            offset: 42,
            event: delta(),
        });
        assert_eq!(frame, serde_json::to_string(&typed).unwrap());
        assert_eq!(
            serde_json::from_str::<ServerMessage>(&frame).unwrap(),
            typed
        );
    }

    #[test]
    fn subscribed_frame_decodes_as_the_typed_reply() {
        let parts = event_frame_parts("project:p1", &delta()).unwrap();
        let stored = [parts.assemble("e", 7), parts.assemble("e", 8)];
        let stored: Vec<&str> = stored.iter().map(String::as_str).collect();
        let frame =
            subscribed_frame(&RequestId::Int(5), "project:p1", "e", 8, true, &stored).unwrap();
        match serde_json::from_str::<ServerMessage>(&frame).unwrap() {
            ServerMessage::Subscribed {
                re,
                offset,
                recovered,
                publications,
                ..
            } => {
                assert_eq!(re, RequestId::Int(5));
                assert_eq!(offset, 8);
                assert!(recovered);
                assert_eq!(
                    publications.iter().map(|p| p.offset).collect::<Vec<_>>(),
                    [7, 8]
                );
                assert_eq!(publications[0].event, delta());
            }
            other => panic!("not subscribed: {other:?}"),
        }
    }

    #[test]
    fn a_stored_frame_that_is_not_json_is_an_error() {
        assert!(subscribed_frame(&RequestId::Int(1), "t", "e", 1, true, &["{"]).is_err());
    }
}
