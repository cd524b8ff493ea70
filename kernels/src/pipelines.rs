//! The WGSL sources and their compute pipelines, compiled once per [`crate::SaliencyKernels`].

/// One compiled pipeline per kernel entry point. Layouts come from the shaders (`layout: None`),
/// so each entry point's bind group holds exactly the bindings it uses.
pub(crate) struct Pipelines {
    pub xgradcam_weights: wgpu::ComputePipeline,
    pub gap_linear_weights: wgpu::ComputePipeline,
    pub cam_map: wgpu::ComputePipeline,
    pub scale: wgpu::ComputePipeline,
    pub threshold: wgpu::ComputePipeline,
    pub apply_mask: wgpu::ComputePipeline,
}

impl Pipelines {
    pub fn new(device: &wgpu::Device) -> Self {
        let cam_weights = module(
            device,
            "cam_weights",
            include_str!("shaders/cam_weights.wgsl"),
        );
        let cam_map = module(device, "cam_map", include_str!("shaders/cam_map.wgsl"));
        let scale = module(device, "scale", include_str!("shaders/scale.wgsl"));
        let mask = module(device, "mask", include_str!("shaders/mask.wgsl"));
        Self {
            xgradcam_weights: pipeline(device, &cam_weights, "xgradcam"),
            gap_linear_weights: pipeline(device, &cam_weights, "gap_linear"),
            cam_map: pipeline(device, &cam_map, "main"),
            scale: pipeline(device, &scale, "main"),
            threshold: pipeline(device, &mask, "threshold"),
            apply_mask: pipeline(device, &mask, "apply_mask"),
        }
    }
}

fn module(device: &wgpu::Device, label: &str, source: &str) -> wgpu::ShaderModule {
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    })
}

fn pipeline(
    device: &wgpu::Device,
    module: &wgpu::ShaderModule,
    entry_point: &str,
) -> wgpu::ComputePipeline {
    device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some(entry_point),
        layout: None,
        module,
        entry_point: Some(entry_point),
        compilation_options: Default::default(),
        cache: None,
    })
}
