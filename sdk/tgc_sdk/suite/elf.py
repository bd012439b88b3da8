"""A small pure-Python ELF reader: the dynamic symbol table, DT_NEEDED and the bytes behind a symbol.

Enough for the loader tier to check what a backend exports and to read its manifest without running any of its code
(and without binutils). ELF32/ELF64, either byte order."""
from __future__ import annotations
import struct
from dataclasses import dataclass

SHT_DYNSYM, SHT_DYNAMIC, SHT_NOBITS, SHN_UNDEF, DT_NEEDED = 11, 6, 8, 0, 1
STB = {0: "LOCAL", 1: "GLOBAL", 2: "WEAK", 10: "GNU_UNIQUE"}
STT = {0: "NOTYPE", 1: "OBJECT", 2: "FUNC", 3: "SECTION", 4: "FILE", 5: "COMMON", 6: "TLS", 10: "GNU_IFUNC"}
STV = {0: "DEFAULT", 1: "INTERNAL", 2: "HIDDEN", 3: "PROTECTED"}

class ElfError(ValueError): pass

@dataclass(frozen=True)
class Symbol:
  name: str
  type: str
  bind: str
  visibility: str
  value: int
  size: int
  shndx: int
  @property
  def defined(self) -> bool: return self.shndx != SHN_UNDEF

@dataclass(frozen=True)
class Section:
  name: str
  type: int
  addr: int
  offset: int
  size: int
  link: int
  entsize: int

class Elf:
  """Elf(path).dynamic_symbols(), .exported(), .needed(), .symbol_bytes("tg_backend_manifest")."""
  def __init__(self, path: str):
    with open(path, "rb") as f: self.data = data = f.read()
    if data[:4] != b"\x7fELF": raise ElfError(f"{path} is not an ELF file (magic {data[:4]!r})")
    if data[4] not in (1, 2) or data[5] not in (1, 2): raise ElfError(f"{path}: unknown ELF class {data[4]} / byte order {data[5]}")
    self.path, self.is64, self.end = path, data[4] == 2, "<" if data[5] == 1 else ">"
    if self.is64: shoff, shentsize, shnum, shstrndx = self._u("Q", 0x28), self._u("H", 0x3A), self._u("H", 0x3C), self._u("H", 0x3E)
    else: shoff, shentsize, shnum, shstrndx = self._u("I", 0x20), self._u("H", 0x2E), self._u("H", 0x30), self._u("H", 0x32)
    if shoff == 0 or shoff + shentsize * shnum > len(data): raise ElfError(f"{path}: no section headers, or they lie past the end of the file")
    fmt = "IIQQQQIIQQ" if self.is64 else "IIIIIIIIII"
    raw = [struct.unpack_from(self.end + fmt, data, shoff + i * shentsize) for i in range(shnum)]
    strtab = raw[shstrndx] if shstrndx < shnum else None
    self.sections = [Section(self._str(strtab[4], r[0]) if strtab else "", r[1], r[3], r[4], r[5], r[6], r[9]) for r in raw]

  def _u(self, fmt: str, off: int) -> int: return struct.unpack_from(self.end + fmt, self.data, off)[0]
  def _str(self, table_off: int, off: int) -> str:
    start = table_off + off
    end = self.data.find(b"\0", start)
    return self.data[start:end if end >= 0 else len(self.data)].decode(errors="replace")

  def dynamic_symbols(self) -> list[Symbol]:
    """Every entry of .dynsym (defined or not), in table order, without the null entry."""
    out = []
    for sec in (s for s in self.sections if s.type == SHT_DYNSYM):
      strtab, ent = self.sections[sec.link].offset, sec.entsize or (24 if self.is64 else 16)
      for off in range(sec.offset + ent, sec.offset + sec.size, ent):
        if self.is64: name, info, other, shndx, value, size = struct.unpack_from(self.end + "IBBHQQ", self.data, off)
        else: name, value, size, info, other, shndx = struct.unpack_from(self.end + "IIIBBH", self.data, off)
        out.append(Symbol(self._str(strtab, name), STT.get(info & 0xF, str(info & 0xF)), STB.get(info >> 4, str(info >> 4)),
                          STV.get(other & 3, str(other & 3)), value, size, shndx))
    return out

  def exported(self) -> list[Symbol]:
    """What `nm -D --defined-only` lists: defined dynamic symbols that other objects can bind to."""
    return [s for s in self.dynamic_symbols() if s.defined and s.bind != "LOCAL" and s.visibility in ("DEFAULT", "PROTECTED") and s.name]

  def needed(self) -> list[str]:
    """DT_NEEDED entries: the shared libraries this one links."""
    out = []
    for sec in (s for s in self.sections if s.type == SHT_DYNAMIC):
      strtab, ent = self.sections[sec.link].offset, sec.entsize or (16 if self.is64 else 8)
      for off in range(sec.offset, sec.offset + sec.size, ent):
        tag, val = struct.unpack_from(self.end + ("qQ" if self.is64 else "iI"), self.data, off)
        if tag == 0: break
        if tag == DT_NEEDED: out.append(self._str(strtab, val))
    return out

  def symbol_bytes(self, name: str) -> bytes:
    """The st_size bytes a defined data symbol points at, read from the file (zeros for .bss)."""
    sym = next((s for s in self.dynamic_symbols() if s.name == name and s.defined), None)
    if sym is None: raise ElfError(f"{self.path}: no defined dynamic symbol {name!r}")
    if sym.shndx >= len(self.sections): raise ElfError(f"{self.path}: symbol {name!r} has special section index {sym.shndx:#x}")
    sec = self.sections[sym.shndx]
    if sec.type == SHT_NOBITS: return bytes(sym.size)
    start = sec.offset + sym.value - sec.addr
    if not sec.addr <= sym.value <= sec.addr + sec.size - sym.size or start + sym.size > len(self.data):
      raise ElfError(f"{self.path}: symbol {name!r} at {sym.value:#x}+{sym.size} lies outside its section {sec.name}")
    return self.data[start:start + sym.size]
