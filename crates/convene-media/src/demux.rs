//! Which peer a datagram belongs to, without offering it to every peer: STUN binding
//! requests name the peer in their USERNAME (`<our ufrag>:<their ufrag>`), and once a
//! peer has been reached from an address, DTLS, RTP and RTCP from that address are
//! its own.

/// The STUN magic cookie (RFC 5389).
const MAGIC_COOKIE: [u8; 4] = [0x21, 0x12, 0xA4, 0x42];
const ATTR_USERNAME: u16 = 0x0006;
const HEADER: usize = 20;

/// A datagram's kind, by its first byte (RFC 7983).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Stun,
    Dtls,
    Rtp,
    Unknown,
}

pub fn classify(buf: &[u8]) -> Kind {
    match buf.first() {
        Some(0..=3) if buf.len() >= HEADER && buf[4..8] == MAGIC_COOKIE => Kind::Stun,
        Some(20..=63) => Kind::Dtls,
        Some(128..=191) => Kind::Rtp,
        _ => Kind::Unknown,
    }
}

/// The local ufrag a STUN request is addressed to, if it carries a well-formed
/// USERNAME; malformed lengths are rejected, never read past.
pub fn stun_local_ufrag(buf: &[u8]) -> Option<&str> {
    if classify(buf) != Kind::Stun {
        return None;
    }
    let declared = u16::from_be_bytes([buf[2], buf[3]]) as usize;
    let body = buf.get(HEADER..HEADER + declared)?;
    let mut at = 0;
    while at + 4 <= body.len() {
        let kind = u16::from_be_bytes([body[at], body[at + 1]]);
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        let value = body.get(at + 4..at + 4 + len)?;
        if kind == ATTR_USERNAME {
            let username = std::str::from_utf8(value).ok()?;
            return username.split(':').next().filter(|u| !u.is_empty());
        }
        // Attributes are padded to four bytes.
        at += 4 + len.div_ceil(4) * 4;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stun_with_username(username: &str) -> Vec<u8> {
        let mut attr = vec![0x00, 0x06];
        attr.extend_from_slice(&(username.len() as u16).to_be_bytes());
        attr.extend_from_slice(username.as_bytes());
        while attr.len() % 4 != 0 {
            attr.push(0);
        }
        // A PRIORITY attribute first, to check that we skip attributes properly.
        let mut body = vec![0x00, 0x24, 0x00, 0x04, 1, 2, 3, 4];
        body.extend_from_slice(&attr);
        let mut msg = vec![0x00, 0x01];
        msg.extend_from_slice(&(body.len() as u16).to_be_bytes());
        msg.extend_from_slice(&MAGIC_COOKIE);
        msg.extend_from_slice(&[7; 12]);
        msg.extend_from_slice(&body);
        msg
    }

    #[test]
    fn finds_the_local_ufrag() {
        let msg = stun_with_username("srvufrag:clientufrag");
        assert_eq!(classify(&msg), Kind::Stun);
        assert_eq!(stun_local_ufrag(&msg), Some("srvufrag"));
    }

    #[test]
    fn rejects_truncated_and_lying_lengths() {
        let msg = stun_with_username("abcd:efgh");
        assert_eq!(stun_local_ufrag(&msg[..msg.len() - 3]), None);
        let mut lying = msg.clone();
        lying[2] = 0xff;
        assert_eq!(stun_local_ufrag(&lying), None);
        let mut attr_lie = msg.clone();
        attr_lie[HEADER + 10] = 0xff; // USERNAME length
        assert_eq!(stun_local_ufrag(&attr_lie), None);
        assert_eq!(stun_local_ufrag(&[0u8; 3]), None);
    }

    #[test]
    fn classifies_by_first_byte() {
        assert_eq!(classify(&[22, 254, 253]), Kind::Dtls);
        assert_eq!(classify(&[0x80, 0x60]), Kind::Rtp);
        assert_eq!(classify(&[0xff]), Kind::Unknown);
        assert_eq!(classify(&[]), Kind::Unknown);
    }
}
