/* test=agent: a stand-in for hutch-agent (microvm/agent/), so that the host's side of a container
 * in a microVM (microvm/host/vm_run.h: hutch-vmm's command line, the ports on inherited sockets,
 * the disks' serials, the relay of stdio, signals and the exit status) runs for real on the builtin
 * VMM where it cannot boot Linux. It speaks the agent's protocol (microvm/agent/protocol.h),
 * written here from that header's description: a frame is a kind byte, the payload's length (4
 * bytes, little-endian) and the payload. It reads the host's config frame ('C', skipped), says it
 * is prepared ('P'), waits for the host's go ('G', skipping window sizes 'W'), says the process
 * started ('R'), then plays the process mode= names:
 *   mode=echo exit=N  sends back what comes on "hutch.stdin", until the host closes it, as stdout
 *                     ('O'), then a line on stderr ('E'), and exits with N ('X').
 *   mode=signal       says "agent: waiting for a signal" on stdout, waits for a signal frame ('S')
 *                     and exits as a process that signal killed: 128+N, after a line naming it.
 *   mode=disk         says on stdout, for each virtio-blk disk in the command line's order, a line
 *                     of its id (GET_ID), a space, and the first line of its first sector (at
 *                     most 64 bytes); then exits with 0.
 *   any other         fails ('F'), as the agent does when it cannot start the process.
 * After its last frame it holds, as the agent does, until the host kills the VMM. A failed check
 * exits the VM instead (guest_run), which the host reports with the console's last lines. */
#include "guest.h"

#define FRAME_HEADER 5

static uint32_t control_port;
static uint8_t frame[FRAME_HEADER + CONSOLE_RX_SIZE]; /* the frame being sent */
static uint8_t received[CONSOLE_RX_SIZE];             /* what hutch.control gave, not yet parsed */
static uint32_t received_at, received_end;

/* Sends a frame of `kind` with `len` bytes of payload (at most CONSOLE_RX_SIZE). */
static int send_frame(char kind, const void* payload, uint32_t len) {
    frame[0] = (uint8_t)kind;
    for (int i = 0; i < 4; ++i) frame[1 + i] = (uint8_t)(len >> (8 * i));
    memcpy(frame + FRAME_HEADER, payload, len);
    int sent = console_write(control_port, frame, FRAME_HEADER + len);
    check(sent == 0, "a frame written on hutch.control", (uint64_t)(uint8_t)kind, 0);
    return sent;
}
static int send_text(char kind, const char* text) { return send_frame(kind, text, (uint32_t)length(text)); }
/* The payload of an int frame: decimal, as protocol.h's int_payload writes it. */
static int send_int(char kind, uint64_t value) {
    char digits[21];
    int n = 0;
    do digits[sizeof digits - 1 - n++] = (char)('0' + value % 10);
    while ((value /= 10) != 0);
    return send_frame(kind, digits + sizeof digits - n, (uint32_t)n);
}

/* The next byte from hutch.control, or -1 when the host closed it or the device stopped. */
static int control_byte(void) {
    if (received_at == received_end) {
        int n = console_read(control_port, received);
        if (n <= 0) return -1;
        received_at = 0;
        received_end = (uint32_t)n;
    }
    return received[received_at++];
}

/* Waits for the next frame on hutch.control: returns its kind, and its payload's first bytes (up
 * to `room`, the rest read and dropped) and length; -1 when the port or the device stopped. */
static int read_frame(uint8_t* payload, uint32_t room, uint32_t* len) {
    int kind = control_byte();
    uint32_t size = 0;
    for (int i = 0; i < 4 && kind >= 0; ++i) {
        int byte = control_byte();
        if (byte < 0) return -1;
        size |= (uint32_t)byte << (8 * i);
    }
    for (uint32_t i = 0; i < size && kind >= 0; ++i) {
        int byte = control_byte();
        if (byte < 0) return -1;
        if (i < room) payload[i] = (uint8_t)byte;
    }
    *len = size;
    return kind;
}

/* mode=echo: hutch.stdin's bytes back as stdout, until the host closes it. */
static void echo(void) {
    static uint8_t bytes[CONSOLE_RX_SIZE];
    uint32_t input = console_port("hutch.stdin");
    uint64_t echoed = 0;
    int n;
    while ((n = console_read(input, bytes)) > 0) {
        if (send_frame('O', bytes, (uint32_t)n) != 0) return;
        echoed += (uint64_t)n;
    }
    check(n == 0, "hutch.stdin read to its end", (uint64_t)n, 0);
    print("guest: agent echoed ");
    print_u64(echoed);
    print(" bytes\n");
    if (n == 0 && send_text('E', "agent: stdin closed\n") == 0) send_int('X', arg_u64("exit", 0));
}

/* mode=signal: the first signal frame ends the "process". */
static void wait_for_signal(void) {
    if (send_text('O', "agent: waiting for a signal\n") != 0) return;
    uint8_t payload[16];
    uint32_t len;
    int kind;
    while ((kind = read_frame(payload, sizeof payload, &len)) >= 0 && kind != 'S') {
        print("guest: agent skipped a frame of kind ");
        print_u64((uint64_t)kind);
        print("\n");
    }
    if (kind < 0) return check(0, "a signal frame on hutch.control", 0, 1);
    uint64_t number = 0;
    for (uint32_t i = 0; i < len && i < sizeof payload && payload[i] >= '0' && payload[i] <= '9'; ++i)
        number = number * 10 + (uint64_t)(payload[i] - '0');
    check(number > 0 && number < 65, "a signal number in the signal frame", number, 15);
    if (send_text('O', "agent: got signal ") != 0 || send_int('O', number) != 0 || send_text('O', "\n") != 0)
        return;
    send_int('X', 128 + number);
}

/* mode=disk: each disk's id, which the host sets to the layer's serial, and what the disk holds,
 * which says which layer it is. */
static void disks(void) {
    static uint8_t sector[512];
    uint64_t device;
    for (uint32_t n = 0; (device = virtio_device_with_id(2, n)) != 0; ++n) {
        char id[21];
        int status = blk_get_id(device, id);
        check(status == 0, "GET_ID status", (uint64_t)status, 0);
        if (status == 0) status = blk_read_first_sector(device, sector);
        check(status == 0, "read status", (uint64_t)status, 0);
        uint32_t line = 0;
        while (line < 64 && sector[line] != '\n') ++line;
        if (status != 0 || send_text('O', id) != 0 || send_text('O', " ") != 0 ||
            send_frame('O', sector, line) != 0 || send_text('O', "\n") != 0)
            return;
    }
    send_int('X', 0);
}

void test_agent(void) {
    uint64_t device = virtio_device_with_id(3, 0);
    if (!device) return check(0, "a virtio-console on the command line", 0, 1);
    if (console_start(device) != 0) return check(0, "the console's start", 0, 1);
    control_port = console_port("hutch.control");
    if (failures) return;
    /* The config comes first, before the VM even started: in the socket since. */
    uint8_t ignored[1];
    uint32_t len;
    int kind = read_frame(ignored, 0, &len);
    check(kind == 'C', "the config frame first", (uint64_t)kind, 'C');
    print("guest: agent got a config of ");
    print_u64(len);
    print(" bytes\n");
    if (failures || send_frame('P', "", 0) != 0) return;
    while ((kind = read_frame(ignored, 0, &len)) == 'W') {
    }
    check(kind == 'G', "the go frame after prepared", (uint64_t)kind, 'G');
    if (failures || send_frame('R', "", 0) != 0) return;
    if (arg_is("mode", "echo")) echo();
    else if (arg_is("mode", "signal")) wait_for_signal();
    else if (arg_is("mode", "disk")) disks();
    else if (send_text('F', "agent stand-in: no known mode= on the command line") != 0) return;
    if (failures) return;
    print("guest: agent done, holding\n");
    hold();
}
