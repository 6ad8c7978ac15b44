// Served over http by jsr_remote.test.js and run by Deno as a JSR user runs the package:
// every module fetched from a URL, none from a file. Opens a doorbell on a memfd mapping,
// rings it and prints what the mapping and the file saw, as JSON.
import { barrierInfo, doorbell32, Fd, ftruncate, MappedMemory, memfdCreate, MFD_CLOEXEC, pageSize } from "warpdrive/sys";

const fd = Fd.adopt(memfdCreate("warpdrive-remote", MFD_CLOEXEC), { label: "remote memfd" });
try {
  ftruncate(fd.fd, pageSize());
  using regs = MappedMemory.mapFile(fd.fd, 0, pageSize(), { label: "remote doorbell" });
  const ring = doorbell32(regs, 0x40);
  ring(0x5eed);
  const back = new Uint8Array(4);
  fd.pread(back, 0x40);
  console.log(JSON.stringify({
    module: import.meta.url,
    library: import.meta.resolve("warpdrive/sys"),
    backend: ring.backend,
    info: barrierInfo().backend,
    mapped: regs.read32(0x40),
    file: new Uint32Array(back.buffer)[0],
  }));
} finally {
  fd.close();
}
