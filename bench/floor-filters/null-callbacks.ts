// The callbacks the floor filters share: present (the SDK exports them all too), empty.
export function proxy_abi_version_0_2_1(): void {}
export function proxy_on_memory_allocate(size: usize): usize { return heap.alloc(size); }
export function proxy_on_context_create(id: u32, parent: u32): void {}
export function proxy_on_vm_start(id: u32, size: u32): bool { return true; }
export function proxy_on_configure(id: u32, size: u32): bool { return true; }
export function proxy_on_request_body(id: u32, size: u32, eos: u32): u32 { return 0; }
export function proxy_on_response_body(id: u32, size: u32, eos: u32): u32 { return 0; }
export function proxy_on_log(id: u32): void {}
export function proxy_on_done(id: u32): bool { return true; }
