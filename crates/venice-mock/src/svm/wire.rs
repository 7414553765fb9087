//! Decoding of a serialized Solana versioned transaction: the mock's own reader, so
//! that a client encoding bug cannot hide behind shared code.

/// A 32-byte Solana address.
pub type Address = [u8; 32];

/// One compiled instruction: indexes into the message's account keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledInstruction {
    /// Index of the program id.
    pub program: u8,
    /// Indexes of the accounts, in order.
    pub accounts: Vec<u8>,
    /// Instruction data.
    pub data: Vec<u8>,
}

/// A decoded versioned transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// Signatures, in account order.
    pub signatures: Vec<[u8; 64]>,
    /// The message bytes as signed (version prefix included).
    pub message: Vec<u8>,
    /// `None` for a legacy message, else the version number.
    pub version: Option<u8>,
    /// Signatures the message requires.
    pub num_required_signatures: u8,
    /// Read-only accounts among the signers.
    pub num_readonly_signed: u8,
    /// Read-only accounts among the non-signers.
    pub num_readonly_unsigned: u8,
    /// Static account keys.
    pub keys: Vec<Address>,
    /// The recent blockhash.
    pub blockhash: [u8; 32],
    /// Instructions, in order.
    pub instructions: Vec<CompiledInstruction>,
    /// Number of address table lookups (v0 only).
    pub lookup_tables: usize,
}

impl Transaction {
    /// Whether account `i` must sign.
    pub fn is_signer(&self, i: usize) -> bool {
        i < usize::from(self.num_required_signatures)
    }

    /// Whether account `i` is writable under the header.
    pub fn is_writable(&self, i: usize) -> bool {
        let signers = usize::from(self.num_required_signatures);
        if i < signers {
            i < signers - usize::from(self.num_readonly_signed)
        } else {
            i < self.keys.len() - usize::from(self.num_readonly_unsigned)
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.buf.len())
            .ok_or("transaction truncated")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// `compact-u16`, strictly: at most three bytes, no redundant trailing zero byte,
    /// no overflow (Solana's `short_vec` rejects the same aliases).
    fn compact_u16(&mut self) -> Result<usize, String> {
        let mut value: u32 = 0;
        for i in 0..3 {
            let b = self.byte()?;
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err("non-canonical compact-u16".into());
                }
                if i == 2 && b > 0x03 {
                    return Err("compact-u16 overflow".into());
                }
                return Ok(value as usize);
            }
        }
        Err("compact-u16 longer than three bytes".into())
    }
}

/// Decode a serialized versioned (or legacy) transaction; every byte must be used.
pub fn decode(bytes: &[u8]) -> Result<Transaction, String> {
    let mut r = Reader { buf: bytes, pos: 0 };
    let count = r.compact_u16()?;
    let signatures = (0..count)
        .map(|_| r.array::<64>())
        .collect::<Result<Vec<_>, _>>()?;
    let message_start = r.pos;
    let first = r.byte()?;
    let (version, num_required_signatures) = if first & 0x80 != 0 {
        (Some(first & 0x7f), r.byte()?)
    } else {
        (None, first)
    };
    if version.is_some_and(|v| v != 0) {
        return Err(format!("unsupported message version {version:?}"));
    }
    let num_readonly_signed = r.byte()?;
    let num_readonly_unsigned = r.byte()?;
    let keys = (0..r.compact_u16()?)
        .map(|_| r.array::<32>())
        .collect::<Result<Vec<_>, _>>()?;
    let blockhash = r.array::<32>()?;
    let mut instructions = Vec::new();
    for _ in 0..r.compact_u16()? {
        let program = r.byte()?;
        let n = r.compact_u16()?;
        let accounts = r.take(n)?.to_vec();
        let n = r.compact_u16()?;
        let data = r.take(n)?.to_vec();
        instructions.push(CompiledInstruction {
            program,
            accounts,
            data,
        });
    }
    let lookup_tables = if version.is_some() {
        let n = r.compact_u16()?;
        for _ in 0..n {
            r.take(32)?;
            let w = r.compact_u16()?;
            r.take(w)?;
            let ro = r.compact_u16()?;
            r.take(ro)?;
        }
        n
    } else {
        0
    };
    if r.pos != bytes.len() {
        return Err("trailing bytes after the message".into());
    }
    let tx = Transaction {
        signatures,
        message: bytes[message_start..].to_vec(),
        version,
        num_required_signatures,
        num_readonly_signed,
        num_readonly_unsigned,
        keys,
        blockhash,
        instructions,
        lookup_tables,
    };
    sanitize(&tx)?;
    Ok(tx)
}

/// The structural rules Solana's runtime applies before anything else.
fn sanitize(tx: &Transaction) -> Result<(), String> {
    let signers = usize::from(tx.num_required_signatures);
    if tx.signatures.len() != signers {
        return Err(format!(
            "{} signatures for {signers} required signers",
            tx.signatures.len()
        ));
    }
    if signers == 0 || tx.num_readonly_signed >= tx.num_required_signatures {
        return Err("the fee payer must be a writable signer".into());
    }
    if signers + usize::from(tx.num_readonly_unsigned) > tx.keys.len() {
        return Err("header counts exceed the account keys".into());
    }
    for ix in &tx.instructions {
        let program = usize::from(ix.program);
        if program == 0 || program >= tx.keys.len() {
            return Err("instruction program index out of range".into());
        }
        if ix.accounts.iter().any(|a| usize::from(*a) >= tx.keys.len()) {
            return Err("instruction account index out of range".into());
        }
    }
    let mut seen = std::collections::HashSet::new();
    if !tx.keys.iter().all(|k| seen.insert(k)) {
        return Err("duplicate account keys".into());
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Result<usize, String> {
        let mut r = Reader { buf: bytes, pos: 0 };
        let n = r.compact_u16()?;
        if r.pos != bytes.len() {
            return Err("unread bytes".into());
        }
        Ok(n)
    }

    #[test]
    fn compact_u16() {
        for (bytes, n) in [
            (&[0x00][..], 0),
            (&[0x7f], 0x7f),
            (&[0x80, 0x01], 0x80),
            (&[0xff, 0x7f], 0x3fff),
            (&[0x80, 0x80, 0x01], 0x4000),
            (&[0xff, 0xff, 0x03], 0xffff),
        ] {
            assert_eq!(read(bytes).unwrap(), n, "{bytes:?}");
        }
        for bad in [
            &[0x80, 0x00][..],
            &[0xff, 0x80, 0x00],
            &[0xff, 0xff, 0x04],
            &[0x80, 0x80, 0x80, 0x01],
            &[0x80],
        ] {
            assert!(read(bad).is_err(), "{bad:?}");
        }
    }
}
