"""Datasets: XTD-10, image folders (CIFAR-10), ImageNet class names, MNIST, digits, prompts.

``load_dataset(name)`` accepts ``xtd10`` / ``xtd10:LANG``, ``cifar10``, ``imagenet-classes``
(``:name`` for bare names), ``mnist``, ``digits`` and ``image-folder:PATH``.
"""

import lazy_loader

# each public name is imported from its module on first use (PEP 562)
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "base": ["ImageDataset", "TextDataset", "data_root"],
        "classes": ["PROMPT_TEMPLATES", "class_name_embeddings", "class_prompts", "load_imagenet_classes"],
        "images": ["CIFAR10_CLASSES", "load_cifar10", "load_digits", "load_image_folder", "load_mnist"],
        "xtd10": ["XTD10_LANGUAGES", "load_xtd10"],
        "registry": ["DATASETS", "list_datasets", "load_dataset"],
    },
)
