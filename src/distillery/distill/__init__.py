"""Knowledge distillation: teacher labelling, augmentation, Hessian-vector-product targets."""
