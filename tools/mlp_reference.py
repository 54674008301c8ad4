#!/usr/bin/env python3
"""An independent NumPy implementation of the MNIST MLP recipe, to tell seed spread from a bug.

Recipe (as in BENCHMARKS.md): 784-128-10 MLP with ReLU, mean cross-entropy, SGD with momentum 0.9
(PyTorch semantics: v = 0.9 v + g, p -= lr v, dampening 0), lr 0.05, batch 64, 5 epochs, a fresh
shuffle per epoch, PyTorch's nn.Linear initialization (uniform, bound 1/sqrt(fan_in), weights and
biases), inputs (x/255 - 0.1307) / 0.3081, trained on all 8,000 mnist-10k training images and
tested on its 2,000 test images. Prints the test accuracy (%) for seeds 0..N-1 and their mean.

Usage: python3 tools/mlp_reference.py [N_SEEDS] [MNIST_DIR]   (default 20, ../shared/data/mnist-10k)
Needs only NumPy; takes a few seconds.
"""
import gzip, os, sys
import numpy as np
D=(sys.argv[2] if len(sys.argv)>2 else '../shared/data/mnist-10k')+os.sep
def idx(f, off):
    return np.frombuffer(gzip.open(D+f).read(), np.uint8, offset=off)
Xtr=idx('train-images-idx3-ubyte.gz',16).reshape(-1,784).astype(np.float32)
ytr=idx('train-labels-idx1-ubyte.gz',8).astype(np.int64)
Xte=idx('t10k-images-idx3-ubyte.gz',16).reshape(-1,784).astype(np.float32)
yte=idx('t10k-labels-idx1-ubyte.gz',8).astype(np.int64)
norm=lambda x:((x/255.0)-0.1307)/0.3081
Xtr,Xte=norm(Xtr).astype(np.float32),norm(Xte).astype(np.float32)
def run(seed):
    r=np.random.default_rng(seed)
    b1=1/np.sqrt(784); b2=1/np.sqrt(128)
    W1=r.uniform(-b1,b1,(784,128)).astype(np.float32); c1=r.uniform(-b1,b1,128).astype(np.float32)
    W2=r.uniform(-b2,b2,(128,10)).astype(np.float32); c2=r.uniform(-b2,b2,10).astype(np.float32)
    P=[W1,c1,W2,c2]; V=[np.zeros_like(p) for p in P]
    for ep in range(5):
        perm=r.permutation(len(Xtr))
        for s in range(0,len(perm),64):
            i=perm[s:s+64]; x=Xtr[i]; y=ytr[i]; n=len(i)
            h=x@W1+c1; a=np.maximum(h,0); z=a@W2+c2
            z=z-z.max(1,keepdims=True); p=np.exp(z); p/=p.sum(1,keepdims=True)
            g=p; g[np.arange(n),y]-=1; g/=n
            gW2=a.T@g; gc2=g.sum(0); ga=g@W2.T; ga[h<=0]=0
            gW1=x.T@ga; gc1=ga.sum(0)
            for k,gr in enumerate([gW1,gc1,gW2,gc2]):
                V[k]=0.9*V[k]+gr; P[k]-=0.05*V[k]
    z=np.maximum(Xte@W1+c1,0)@W2+c2
    return (z.argmax(1)==yte).mean()*100
accs=[run(s) for s in range(int(sys.argv[1]) if len(sys.argv)>1 else 10)]
print(' '.join(f'{a:.2f}' for a in accs)); print('mean %.2f std %.2f'%(np.mean(accs),np.std(accs)))
