//! LiteRT C API, loaded at run time with `libloading` so that the rest of boomgate builds and
//! runs without the library. Only the entry points boomgate calls are declared; their signatures
//! follow the LiteRT 2.1.x headers (`litert/c/*.h`).

use super::InferenceError;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::path::{Path, PathBuf};
use std::sync::Arc;

type Status = c_int;
type Handle = *mut c_void;
type ParamIndex = usize;
type HostDeallocator = Option<unsafe extern "C" fn(*mut c_void)>;

const STATUS_OK: Status = 0;
/// `kLiteRtHwAcceleratorCpu`.
const HW_ACCELERATOR_CPU: c_int = 1;
/// Identifier of the CPU (XNNPACK) opaque options; its payload is a TOML string.
const CPU_OPTIONS_ID: &CStr = c"xnnpack";

/// `LiteRtRankedTensorType` is 72 bytes in LiteRT 2.x (element type, then the layout: rank in
/// the low 7 bits of byte 4, dimensions from byte 8). A larger opaque block keeps us safe if the
/// library writes a bigger struct; we only read the fields at those fixed offsets.
#[repr(C, align(8))]
#[derive(Clone, Copy)]
struct RankedTensorTypeRaw([u8; 256]);

impl RankedTensorTypeRaw {
    fn element_type(&self) -> i32 {
        i32::from_ne_bytes(self.0[0..4].try_into().unwrap_or([0; 4]))
    }

    fn dims(&self) -> Vec<i32> {
        let rank = (self.0[4] & 0x7f) as usize;
        (0..rank.min(8))
            .map(|i| i32::from_ne_bytes(self.0[8 + 4 * i..12 + 4 * i].try_into().unwrap_or([0; 4])))
            .collect()
    }
}

/// `LiteRtQuantizationPerTensor`.
#[repr(C)]
#[derive(Default)]
struct QuantizationPerTensor {
    scale: f32,
    zero_point: i64,
}

/// Element type of a tensor, as far as boomgate cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementType {
    Float32,
    Int8,
    UInt8,
    Int32,
    Int16,
    Float16,
    Other(i32),
}

impl ElementType {
    fn from_litert(code: i32) -> ElementType {
        match code {
            1 => ElementType::Float32,
            9 => ElementType::Int8,
            3 => ElementType::UInt8,
            2 => ElementType::Int32,
            7 => ElementType::Int16,
            10 => ElementType::Float16,
            other => ElementType::Other(other),
        }
    }

    /// Bytes per element (0 when unknown).
    pub fn size(self) -> usize {
        match self {
            ElementType::Float32 | ElementType::Int32 => 4,
            ElementType::Int16 | ElementType::Float16 => 2,
            ElementType::Int8 | ElementType::UInt8 => 1,
            ElementType::Other(_) => 0,
        }
    }

    /// The sidecar spelling (`int8`, `uint8`, `float32`, ...).
    pub fn name(self) -> String {
        match self {
            ElementType::Float32 => "float32".into(),
            ElementType::Int8 => "int8".into(),
            ElementType::UInt8 => "uint8".into(),
            ElementType::Int32 => "int32".into(),
            ElementType::Int16 => "int16".into(),
            ElementType::Float16 => "float16".into(),
            ElementType::Other(c) => format!("litert-type-{c}"),
        }
    }
}

/// What the model file says about one input or output tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: ElementType,
    pub shape: Vec<i32>,
    /// Per-tensor quantization `(scale, zero_point)`, if any.
    pub quantization: Option<(f32, i64)>,
}

impl TensorInfo {
    pub fn element_count(&self) -> usize {
        self.shape.iter().map(|&d| d.max(0) as usize).product()
    }
}

macro_rules! api_table {
    ($( $field:ident : $sym:literal => fn($($arg:ty),*) $(-> $ret:ty)? ;)*) => {
        /// Function pointers resolved from `libLiteRt.so`. The library stays loaded as long as
        /// this table lives.
        pub(crate) struct Api {
            $( $field: unsafe extern "C" fn($($arg),*) $(-> $ret)?, )*
            // Never unloaded: LiteRT keeps worker threads and static state whose teardown after
            // `dlclose` crashes the process at exit.
            _library: std::mem::ManuallyDrop<libloading::Library>,
        }

        impl Api {
            fn resolve(library: libloading::Library, path: &Path) -> Result<Api, InferenceError> {
                $(
                    // SAFETY: the symbol is declared with the signature of the LiteRT 2.1 header.
                    let $field = unsafe {
                        *library
                            .get::<unsafe extern "C" fn($($arg),*) $(-> $ret)?>($sym.as_bytes())
                            .map_err(|_| InferenceError::SymbolMissing {
                                path: path.to_path_buf(),
                                symbol: $sym.to_string(),
                            })?
                    };
                )*
                Ok(Api { $( $field, )* _library: std::mem::ManuallyDrop::new(library) })
            }
        }
    };
}

api_table! {
    create_environment: "LiteRtCreateEnvironment" => fn(c_int, *const c_void, *mut Handle) -> Status;
    destroy_environment: "LiteRtDestroyEnvironment" => fn(Handle);
    create_model_from_file: "LiteRtCreateModelFromFile" => fn(*const c_char, *mut Handle) -> Status;
    destroy_model: "LiteRtDestroyModel" => fn(Handle);
    get_model_signature: "LiteRtGetModelSignature" => fn(Handle, ParamIndex, *mut Handle) -> Status;
    get_num_signature_inputs: "LiteRtGetNumSignatureInputs" => fn(Handle, *mut ParamIndex) -> Status;
    get_num_signature_outputs: "LiteRtGetNumSignatureOutputs" => fn(Handle, *mut ParamIndex) -> Status;
    get_signature_input_tensor_by_index: "LiteRtGetSignatureInputTensorByIndex" => fn(Handle, ParamIndex, *mut Handle) -> Status;
    get_signature_output_tensor_by_index: "LiteRtGetSignatureOutputTensorByIndex" => fn(Handle, ParamIndex, *mut Handle) -> Status;
    get_tensor_name: "LiteRtGetTensorName" => fn(Handle, *mut *const c_char) -> Status;
    get_tensor_type_id: "LiteRtGetTensorTypeId" => fn(Handle, *mut c_int) -> Status;
    get_ranked_tensor_type: "LiteRtGetRankedTensorType" => fn(Handle, *mut RankedTensorTypeRaw) -> Status;
    get_quantization_type_id: "LiteRtGetQuantizationTypeId" => fn(Handle, *mut c_int) -> Status;
    get_per_tensor_quantization: "LiteRtGetPerTensorQuantization" => fn(Handle, *mut QuantizationPerTensor) -> Status;
    create_options: "LiteRtCreateOptions" => fn(*mut Handle) -> Status;
    destroy_options: "LiteRtDestroyOptions" => fn(Handle);
    set_options_hardware_accelerators: "LiteRtSetOptionsHardwareAccelerators" => fn(Handle, c_int) -> Status;
    create_opaque_options: "LiteRtCreateOpaqueOptions" => fn(*const c_char, *mut c_void, HostDeallocator, *mut Handle) -> Status;
    add_opaque_options: "LiteRtAddOpaqueOptions" => fn(Handle, Handle) -> Status;
    create_compiled_model: "LiteRtCreateCompiledModel" => fn(Handle, Handle, Handle, *mut Handle) -> Status;
    destroy_compiled_model: "LiteRtDestroyCompiledModel" => fn(Handle);
    create_tensor_buffer_from_host_memory: "LiteRtCreateTensorBufferFromHostMemory" => fn(*const RankedTensorTypeRaw, *mut c_void, usize, HostDeallocator, *mut Handle) -> Status;
    destroy_tensor_buffer: "LiteRtDestroyTensorBuffer" => fn(Handle);
    run_compiled_model: "LiteRtRunCompiledModel" => fn(Handle, ParamIndex, usize, *mut Handle, usize, *mut Handle) -> Status;
}

fn check(call: &'static str, status: Status) -> Result<(), InferenceError> {
    if status == STATUS_OK {
        Ok(())
    } else {
        Err(InferenceError::RuntimeCall {
            call,
            status,
            context: None,
        })
    }
}

fn check_ctx(
    call: &'static str,
    status: Status,
    context: impl FnOnce() -> String,
) -> Result<(), InferenceError> {
    if status == STATUS_OK {
        Ok(())
    } else {
        Err(InferenceError::RuntimeCall {
            call,
            status,
            context: Some(context()),
        })
    }
}

/// The loaded LiteRT library. Cheap to clone; every model keeps it loaded.
#[derive(Clone)]
pub struct Runtime {
    api: Arc<Api>,
    path: PathBuf,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("path", &self.path).finish()
    }
}

impl Runtime {
    /// Loads `libLiteRt.so` from `settings.litert_library`, or else from the first existing
    /// path of [`crate::config::default_litert_candidates`].
    pub fn load(settings: &crate::config::RuntimeSettings) -> Result<Runtime, InferenceError> {
        let candidates = match &settings.litert_library {
            Some(p) => vec![p.clone()],
            None => crate::config::default_litert_candidates(),
        };
        let Some(path) = candidates.iter().find(|p| p.is_file()).cloned() else {
            return Err(InferenceError::LibraryMissing { tried: candidates });
        };
        Runtime::load_from(&path)
    }

    /// Loads the library at exactly `path`.
    pub fn load_from(path: &Path) -> Result<Runtime, InferenceError> {
        if !path.is_file() {
            return Err(InferenceError::LibraryMissing {
                tried: vec![path.to_path_buf()],
            });
        }
        // SAFETY: loading LiteRT runs its static initialisers, which have no preconditions.
        let library = unsafe { libloading::Library::new(path) }.map_err(|e| {
            InferenceError::LibraryUnloadable {
                path: path.to_path_buf(),
                reason: e.to_string(),
            }
        })?;
        let api = Api::resolve(library, path)?;
        Ok(Runtime {
            api: Arc::new(api),
            path: path.to_path_buf(),
        })
    }

    /// Where the library was loaded from.
    pub fn library_path(&self) -> &Path {
        &self.path
    }

    /// The LiteRT version. The 2.1 C API has no version call, so this is the `VERSION` file that
    /// `scripts/fetch-litert.sh` writes next to the library, or "unknown".
    pub fn version(&self) -> String {
        self.path
            .parent()
            .map(|d| d.join("VERSION"))
            .and_then(|p| std::fs::read_to_string(p).ok())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_string())
    }

    pub(crate) fn api(&self) -> &Arc<Api> {
        &self.api
    }
}

/// 64-byte aligned host memory that backs a LiteRT tensor buffer.
struct AlignedBytes {
    blocks: Vec<Block>,
    len: usize,
}

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Block([u8; 64]);

impl AlignedBytes {
    fn new(len: usize) -> AlignedBytes {
        AlignedBytes {
            blocks: vec![Block([0; 64]); len.div_ceil(64).max(1)],
            len,
        }
    }

    fn as_mut_ptr(&mut self) -> *mut u8 {
        self.blocks.as_mut_ptr().cast()
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the blocks hold at least `len` initialised bytes.
        unsafe { std::slice::from_raw_parts(self.blocks.as_ptr().cast(), self.len) }
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as above, and we hold `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.blocks.as_mut_ptr().cast(), self.len) }
    }
}

/// One tensor buffer over host memory we own.
struct HostTensor {
    memory: AlignedBytes,
    buffer: Handle,
}

/// A compiled model with its input and output buffers, ready to run on the CPU.
pub(crate) struct ModelRunner {
    api: Arc<Api>,
    environment: Handle,
    model: Handle,
    compiled: Handle,
    inputs: Vec<HostTensor>,
    outputs: Vec<HostTensor>,
    pub input_info: Vec<TensorInfo>,
    pub output_info: Vec<TensorInfo>,
}

// SAFETY: the LiteRT handles are only used through `&mut self` (one thread at a time); LiteRT
// objects are not tied to the thread that created them.
unsafe impl Send for ModelRunner {}

impl ModelRunner {
    /// Loads and compiles the `.tflite` file for the CPU with `threads` XNNPACK threads.
    pub fn open(
        runtime: &Runtime,
        path: &Path,
        threads: u32,
    ) -> Result<ModelRunner, InferenceError> {
        if !path.is_file() {
            return Err(InferenceError::ModelMissing {
                path: path.to_path_buf(),
            });
        }
        let api = runtime.api().clone();
        let c_path = CString::new(path.as_os_str().as_encoded_bytes()).map_err(|_| {
            InferenceError::BadInput(format!("model path has a NUL byte: {}", path.display()))
        })?;
        let mut runner = ModelRunner {
            api: api.clone(),
            environment: std::ptr::null_mut(),
            model: std::ptr::null_mut(),
            compiled: std::ptr::null_mut(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            input_info: Vec::new(),
            output_info: Vec::new(),
        };
        let shown = path.display().to_string();
        // SAFETY: every call below follows the LiteRT C API contract; out-pointers are valid and
        // handles are destroyed in `Drop` in reverse order of creation.
        unsafe {
            check(
                "LiteRtCreateEnvironment",
                (api.create_environment)(0, std::ptr::null(), &mut runner.environment),
            )?;
            check_ctx(
                "LiteRtCreateModelFromFile",
                (api.create_model_from_file)(c_path.as_ptr(), &mut runner.model),
                || format!("{shown}: not a valid .tflite model?"),
            )?;
            let mut signature: Handle = std::ptr::null_mut();
            check_ctx(
                "LiteRtGetModelSignature",
                (api.get_model_signature)(runner.model, 0, &mut signature),
                || shown.clone(),
            )?;
            let mut n_in = 0usize;
            let mut n_out = 0usize;
            check(
                "LiteRtGetNumSignatureInputs",
                (api.get_num_signature_inputs)(signature, &mut n_in),
            )?;
            check(
                "LiteRtGetNumSignatureOutputs",
                (api.get_num_signature_outputs)(signature, &mut n_out),
            )?;
            let mut in_types = Vec::new();
            for i in 0..n_in {
                let mut t: Handle = std::ptr::null_mut();
                check(
                    "LiteRtGetSignatureInputTensorByIndex",
                    (api.get_signature_input_tensor_by_index)(signature, i, &mut t),
                )?;
                let (info, raw) = tensor_info(&api, t)?;
                runner.input_info.push(info);
                in_types.push(raw);
            }
            let mut out_types = Vec::new();
            for i in 0..n_out {
                let mut t: Handle = std::ptr::null_mut();
                check(
                    "LiteRtGetSignatureOutputTensorByIndex",
                    (api.get_signature_output_tensor_by_index)(signature, i, &mut t),
                )?;
                let (info, raw) = tensor_info(&api, t)?;
                runner.output_info.push(info);
                out_types.push(raw);
            }

            let mut options: Handle = std::ptr::null_mut();
            check("LiteRtCreateOptions", (api.create_options)(&mut options))?;
            let compiled = compile(
                &api,
                runner.environment,
                runner.model,
                options,
                threads.max(1),
            );
            (api.destroy_options)(options);
            runner.compiled = compiled.map_err(|e| match e {
                InferenceError::RuntimeCall { call, status, .. } => InferenceError::RuntimeCall {
                    call,
                    status,
                    context: Some(shown.clone()),
                },
                other => other,
            })?;

            for (info, raw) in runner.input_info.clone().iter().zip(in_types.iter()) {
                let t = host_tensor(&api, info, raw, &shown)?;
                runner.inputs.push(t);
            }
            for (info, raw) in runner.output_info.clone().iter().zip(out_types.iter()) {
                let t = host_tensor(&api, info, raw, &shown)?;
                runner.outputs.push(t);
            }
        }
        Ok(runner)
    }

    /// Raw bytes of input `i`, to be filled before [`ModelRunner::run`].
    pub fn input_mut(&mut self, i: usize) -> &mut [u8] {
        self.inputs[i].memory.bytes_mut()
    }

    /// Raw bytes of output `i`, valid after [`ModelRunner::run`].
    pub fn output(&self, i: usize) -> &[u8] {
        self.outputs[i].memory.bytes()
    }

    /// Runs the model once on the current input bytes.
    pub fn run(&mut self) -> Result<(), InferenceError> {
        let mut ins: Vec<Handle> = self.inputs.iter().map(|t| t.buffer).collect();
        let mut outs: Vec<Handle> = self.outputs.iter().map(|t| t.buffer).collect();
        // SAFETY: the buffers are live, sized by the model's own tensor types, and exclusively ours.
        let status = unsafe {
            (self.api.run_compiled_model)(
                self.compiled,
                0,
                ins.len(),
                ins.as_mut_ptr(),
                outs.len(),
                outs.as_mut_ptr(),
            )
        };
        check("LiteRtRunCompiledModel", status)
    }
}

impl Drop for ModelRunner {
    fn drop(&mut self) {
        // SAFETY: each handle was created by the matching create call and is destroyed once.
        unsafe {
            for t in self.inputs.drain(..).chain(self.outputs.drain(..)) {
                if !t.buffer.is_null() {
                    (self.api.destroy_tensor_buffer)(t.buffer);
                }
            }
            if !self.compiled.is_null() {
                (self.api.destroy_compiled_model)(self.compiled);
            }
            if !self.model.is_null() {
                (self.api.destroy_model)(self.model);
            }
            if !self.environment.is_null() {
                (self.api.destroy_environment)(self.environment);
            }
        }
    }
}

unsafe fn tensor_info(
    api: &Api,
    tensor: Handle,
) -> Result<(TensorInfo, RankedTensorTypeRaw), InferenceError> {
    let mut name_ptr: *const c_char = std::ptr::null();
    let name = if (api.get_tensor_name)(tensor, &mut name_ptr) == STATUS_OK && !name_ptr.is_null() {
        CStr::from_ptr(name_ptr).to_string_lossy().into_owned()
    } else {
        String::new()
    };
    let mut type_id: c_int = -1;
    check(
        "LiteRtGetTensorTypeId",
        (api.get_tensor_type_id)(tensor, &mut type_id),
    )?;
    if type_id != 0 {
        return Err(InferenceError::RuntimeCall {
            call: "LiteRtGetTensorTypeId",
            status: type_id,
            context: Some(format!("tensor {name} has no static rank")),
        });
    }
    let mut raw = RankedTensorTypeRaw([0; 256]);
    check(
        "LiteRtGetRankedTensorType",
        (api.get_ranked_tensor_type)(tensor, &mut raw),
    )?;
    let mut q_type: c_int = 0;
    let mut quantization = None;
    if (api.get_quantization_type_id)(tensor, &mut q_type) == STATUS_OK && q_type == 1 {
        let mut q = QuantizationPerTensor::default();
        check(
            "LiteRtGetPerTensorQuantization",
            (api.get_per_tensor_quantization)(tensor, &mut q),
        )?;
        quantization = Some((q.scale, q.zero_point));
    }
    let info = TensorInfo {
        name,
        dtype: ElementType::from_litert(raw.element_type()),
        shape: raw.dims(),
        quantization,
    };
    Ok((info, raw))
}

unsafe fn compile(
    api: &Api,
    env: Handle,
    model: Handle,
    options: Handle,
    threads: u32,
) -> Result<Handle, InferenceError> {
    check(
        "LiteRtSetOptionsHardwareAccelerators",
        (api.set_options_hardware_accelerators)(options, HW_ACCELERATOR_CPU),
    )?;
    let toml = CString::new(format!("num_threads = {threads}\n")).unwrap_or_default();
    // The opaque options own their payload and free it with `free`.
    let payload = libc::strdup(toml.as_ptr());
    let mut opaque: Handle = std::ptr::null_mut();
    let status = (api.create_opaque_options)(
        CPU_OPTIONS_ID.as_ptr(),
        payload.cast(),
        Some(free_payload),
        &mut opaque,
    );
    if status != STATUS_OK {
        libc::free(payload.cast());
        return Err(InferenceError::RuntimeCall {
            call: "LiteRtCreateOpaqueOptions",
            status,
            context: None,
        });
    }
    check(
        "LiteRtAddOpaqueOptions",
        (api.add_opaque_options)(options, opaque),
    )?;
    let mut compiled: Handle = std::ptr::null_mut();
    check(
        "LiteRtCreateCompiledModel",
        (api.create_compiled_model)(env, model, options, &mut compiled),
    )?;
    Ok(compiled)
}

unsafe extern "C" fn free_payload(p: *mut c_void) {
    libc::free(p);
}

unsafe fn host_tensor(
    api: &Api,
    info: &TensorInfo,
    raw: &RankedTensorTypeRaw,
    model: &str,
) -> Result<HostTensor, InferenceError> {
    let len = info.element_count() * info.dtype.size();
    if len == 0 {
        return Err(InferenceError::RuntimeCall {
            call: "LiteRtCreateTensorBufferFromHostMemory",
            status: -1,
            context: Some(format!(
                "{model}: tensor {} has shape {:?} of type {}",
                info.name,
                info.shape,
                info.dtype.name()
            )),
        });
    }
    let mut memory = AlignedBytes::new(len);
    let mut buffer: Handle = std::ptr::null_mut();
    check_ctx(
        "LiteRtCreateTensorBufferFromHostMemory",
        (api.create_tensor_buffer_from_host_memory)(
            raw,
            memory.as_mut_ptr().cast(),
            len,
            None,
            &mut buffer,
        ),
        || format!("{model}: tensor {}", info.name),
    )?;
    Ok(HostTensor { memory, buffer })
}
