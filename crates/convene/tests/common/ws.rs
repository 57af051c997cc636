//! A real WebSocket participant for tests.

use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async};

pub struct Participant {
    pub socket: WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>,
    pub welcome: Value,
    pub id: String,
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Closed {
    pub code: u16,
    pub reason: String,
}

impl Participant {
    pub async fn connect(url: &str) -> Participant {
        Self::try_connect(url).await.expect("websocket connects")
    }

    pub async fn try_connect(url: &str) -> Result<Participant, String> {
        let (socket, _) = connect_async(url).await.map_err(|e| e.to_string())?;
        Ok(Participant {
            socket,
            welcome: Value::Null,
            id: String::new(),
        })
    }

    pub async fn send(&mut self, frame: Value) {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.socket.send(msg).await.unwrap();
    }

    /// The next JSON frame, or the close if the connection ends.
    pub async fn next(&mut self) -> Result<Value, Closed> {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.socket.next())
                .await
                .expect("a frame within 10 s");
            match msg {
                Some(Ok(Message::Text(t))) => return Ok(serde_json::from_str(t.as_str()).unwrap()),
                Some(Ok(Message::Close(frame))) => {
                    return Err(frame
                        .map(|f| Closed {
                            code: f.code.into(),
                            reason: f.reason.to_string(),
                        })
                        .unwrap_or(Closed {
                            code: 1005,
                            reason: String::new(),
                        }));
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    return Err(Closed {
                        code: 1006,
                        reason: e.to_string(),
                    });
                }
                None => {
                    return Err(Closed {
                        code: 1006,
                        reason: "ended".into(),
                    });
                }
            }
        }
    }

    /// Skips frames until one of type `kind` arrives.
    pub async fn expect(&mut self, kind: &str) -> Value {
        loop {
            match self.next().await {
                Ok(v) if v["type"] == kind => return v,
                Ok(_) => continue,
                Err(c) => panic!("connection closed ({c:?}) while waiting for {kind}"),
            }
        }
    }

    /// Skips frames until the connection closes; returns the close.
    pub async fn expect_close(&mut self) -> Closed {
        loop {
            if let Err(c) = self.next().await {
                return c;
            }
        }
    }
}
